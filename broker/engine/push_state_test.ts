import assert from "node:assert/strict";
import { ByteReader, ByteWriter } from "./binary.ts";
import { PushState } from "./push_state.ts";

const schedule = {
  policy: "exponentialDecay" as const,
  retentionMs: 86_400_000,
  subscriptionIncarnation: 7,
};

Deno.test("retries of a failing endpoint don't pile up stale heap entries on a replica that only applies", () => {
  // A follower applies PushResults and nothing else: no worker asks it what is due.
  const state = new PushState();
  const pending = 1000;
  for (let sequence = 1; sequence <= pending; sequence++) {
    state.add({ sequence, logIndex: 9, slot: 0, publishTime: 0, attempts: 0, nextAttemptAt: 0 });
  }
  let now = 0;
  for (let attempt = 0; attempt < 20; attempt++) {
    now += 600_000;
    for (let sequence = 1; sequence <= pending; sequence++) {
      const effect = state.recordFailure({ sequence, attempt, now, error: "HTTP 500" }, schedule);
      assert.equal(effect, "retry");
    }
  }
  const writer = new ByteWriter();
  state.write(writer);
  const restored = PushState.read(new ByteReader(writer.finish()));
  assert.equal(restored.pending.size, pending);
  // The restored state's heap holds one entry per pending push; the live one may hold a few
  // stale ones more, not one per failure (21 per push here).
  assert.ok(
    state.memoryBytes() <= 2 * restored.memoryBytes(),
    `${state.memoryBytes()} bytes held for ${restored.memoryBytes()} after a restore`,
  );
});

Deno.test("a failure whose next try would come at or past the retry window gives the message up then, counted as expired", () => {
  // Each policy's tries stop where the window ends (the day, or the topic's retention if
  // shorter): a try the window would not reach is not scheduled. Replicas apply this rule, so
  // it is the same on every release that writes this PushResults layout.
  const tries = (policy: "exponentialDecay" | "backoff", retentionMs: number) => {
    const state = new PushState();
    state.add({ sequence: 1, logIndex: 9, slot: 0, publishTime: 0, attempts: 0, nextAttemptAt: 0 });
    const at: number[] = [];
    for (let attempt = 0;; attempt++) {
      const now = state.pending.get(1)!.nextAttemptAt;
      at.push(now);
      const effect = state.recordFailure(
        { sequence: 1, attempt, now, error: "HTTP 500" },
        { policy, retentionMs, subscriptionIncarnation: 7 },
      );
      if (effect !== "retry") return { at, effect, counters: state.counters };
    }
  };
  const short = tries("exponentialDecay", 60_000);
  assert.deepEqual(short.at, [0, 1_000, 3_000, 7_000, 15_000, 31_000]);
  assert.equal(short.effect, "expired", "the next try (63 s) is past the 60 s retention");
  assert.deepEqual(short.counters, { pushed: 0, failures: 6, retries: 5, dropped: 0, expired: 1 });
  const day = tries("exponentialDecay", 86_400_000);
  const last = day.at.at(-1)!;
  assert.ok(last < 86_400_000 && last + 512_000 >= 86_400_000, `last try at ${last} ms`);
  assert.equal(day.effect, "expired");
  assert.equal(tries("backoff", 86_400_000).at.length, 4, "backoff: the first try and 3 retries");
  assert.equal(tries("backoff", 86_400_000).effect, "dropped");
});
