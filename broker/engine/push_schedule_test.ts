import assert from "node:assert/strict";
import { pushRetryLimits, retryDelayMs, retrySpread } from "./push_schedule.ts";
import { ReleaseHeap } from "./release_heap.ts";

Deno.test("exponentialDecay waits 1, 2, 4 … 512 s and then 512 s every time", () => {
  const delays = Array.from(
    { length: 13 },
    (_, index) => retryDelayMs("exponentialDecay", index + 1, 0),
  );
  assert.deepEqual(delays, [
    1_000,
    2_000,
    4_000,
    8_000,
    16_000,
    32_000,
    64_000,
    128_000,
    256_000,
    512_000,
    512_000,
    512_000,
    512_000,
  ]);
  assert.equal(retryDelayMs("exponentialDecay", 10_000, 0), pushRetryLimits.decayDelayMsMax);
});

Deno.test("backoff retries three times, 10 to 20 s after each failure, then gives up", () => {
  for (let spread = 0; spread < 50_000; spread += 997) {
    for (let failures = 1; failures <= 3; failures++) {
      const delay = retryDelayMs("backoff", failures, spread)!;
      assert.ok(delay >= 10_000 && delay <= 20_000, `delay ${delay}`);
    }
  }
  assert.equal(retryDelayMs("backoff", 4, 0), null);
  assert.equal(retryDelayMs("backoff", 3, 0), 10_000);
  assert.equal(retryDelayMs("backoff", 3, 10_000), 20_000);
});

Deno.test("the backoff spread is a function of its inputs and spreads a burst", () => {
  assert.equal(retrySpread(12, 7, 1), retrySpread(12, 7, 1));
  const delays = new Set<number>();
  for (let sequence = 1; sequence <= 100; sequence++) {
    delays.add(retryDelayMs("backoff", 1, retrySpread(12, sequence, 1))!);
  }
  assert.ok(delays.size > 80, `only ${delays.size} distinct delays for 100 messages`);
});

Deno.test("a heap walk visits the due entries earliest first and nothing later", () => {
  const heap = new ReleaseHeap();
  const times = [50, 10, 40, 30, 20, 60, 70, 5];
  times.forEach((time, index) => heap.push(time, index));
  const seen: number[] = [];
  heap.visitUntil(40, (time) => {
    seen.push(time);
    return true;
  });
  assert.deepEqual(seen, [5, 10, 20, 30, 40]);
  const firstTwo: number[] = [];
  heap.visitUntil(100, (time) => {
    firstTwo.push(time);
    return firstTwo.length < 2;
  });
  assert.deepEqual(firstTwo, [5, 10]);
  assert.equal(heap.size, times.length, "a walk changes nothing");
});
