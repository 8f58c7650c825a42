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
