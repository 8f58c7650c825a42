import assert from "node:assert/strict";
import { ByteReader, ByteWriter } from "./binary.ts";
import { PushState } from "./push_state.ts";

const schedule = {
  policy: "exponentialDecay" as const,
  retentionMs: 86_400_000,
  subscriptionIncarnation: 7,
  finalTry: true,
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

/** The tries of one message that fails at every try, each failure recorded when it is due. */
function tries(
  policy: "exponentialDecay" | "backoff",
  retentionMs: number,
  finalTry: boolean,
) {
  const state = new PushState();
  state.add({ sequence: 1, logIndex: 9, slot: 0, publishTime: 0, attempts: 0, nextAttemptAt: 0 });
  const at: number[] = [];
  for (let attempt = 0;; attempt++) {
    const now = state.pending.get(1)!.nextAttemptAt;
    at.push(now);
    const effect = state.recordFailure(
      { sequence: 1, attempt, now, error: "HTTP 500" },
      { policy, retentionMs, subscriptionIncarnation: 7, finalTry },
    );
    if (effect !== "retry") return { at, effect, counters: state.counters };
  }
}

Deno.test("a failure whose next try would come at or past the retry window gets one final try before the window ends", () => {
  // PushResults layout 2 (written now): the next try is brought forward to
  // `pushRetryLimits.finalTryMarginMs` (15 s) before the window's end (the day, or the topic's
  // retention if shorter), once; that try's failure gives the message up, counted as expired.
  const short = tries("exponentialDecay", 60_000, true);
  assert.deepEqual(short.at, [0, 1_000, 3_000, 7_000, 15_000, 31_000, 45_000]);
  assert.equal(short.effect, "expired", "the final try (45 s) failed");
  assert.deepEqual(short.counters, { pushed: 0, failures: 7, retries: 6, dropped: 0, expired: 1 });
  const day = tries("exponentialDecay", 86_400_000, true);
  assert.equal(day.at.at(-1), 86_385_000, "the last try 15 s before the day ends");
  assert.ok(day.at.at(-2)! < 86_385_000 && day.at.at(-2)! + 512_000 >= 86_400_000);
  assert.equal(day.effect, "expired");
  // backoff spends its three retries well inside a day, as before.
  assert.equal(tries("backoff", 86_400_000, true).at.length, 4);
  assert.equal(tries("backoff", 86_400_000, true).effect, "dropped");
});

Deno.test("the final try before the window ends can succeed, and is tried once even when its failure is recorded early", () => {
  const schedule = {
    policy: "exponentialDecay" as const,
    retentionMs: 60_000,
    subscriptionIncarnation: 7,
    finalTry: true,
  };
  const failed = (state: PushState, attempt: number, now: number) =>
    state.recordFailure({ sequence: 1, attempt, now, error: "HTTP 503" }, schedule);
  const state = new PushState();
  state.add({ sequence: 1, logIndex: 9, slot: 0, publishTime: 0, attempts: 0, nextAttemptAt: 0 });
  for (const [attempt, now] of [0, 1_000, 3_000, 7_000, 15_000, 31_000].entries()) {
    assert.equal(failed(state, attempt, now), "retry");
  }
  assert.equal(state.nextAttemptAt(), 45_000);
  assert.equal(state.recordSuccess(1, 6), "pushed");
  assert.deepEqual(state.counters, { pushed: 1, failures: 6, retries: 6, dropped: 0, expired: 0 });
  // A failure of the final try applied at a time before it (a new leader's clock behind the old
  // one's) still gives the message up: the final try is not scheduled twice.
  const early = new PushState();
  early.add({ sequence: 1, logIndex: 9, slot: 0, publishTime: 0, attempts: 5, nextAttemptAt: 0 });
  assert.equal(failed(early, 5, 40_000), "retry");
  assert.equal(early.nextAttemptAt(), 45_000);
  assert.equal(failed(early, 6, 44_000), "expired");
  // A try the window no longer leaves time for (the failure recorded at or past 45 s): given up.
  const late = new PushState();
  late.add({ sequence: 1, logIndex: 9, slot: 0, publishTime: 0, attempts: 5, nextAttemptAt: 0 });
  assert.equal(failed(late, 5, 45_000), "expired");
});

Deno.test("PushResults before layout 2 keep their rule: a failure whose next try would come at or past the window gives the message up then", () => {
  // Replicas apply this rule, so an entry of the earlier layout (a replay of an earlier
  // release's log) gives the message up where that release did.
  const short = tries("exponentialDecay", 60_000, false);
  assert.deepEqual(short.at, [0, 1_000, 3_000, 7_000, 15_000, 31_000]);
  assert.equal(short.effect, "expired", "the next try (63 s) is past the 60 s retention");
  assert.deepEqual(short.counters, { pushed: 0, failures: 6, retries: 5, dropped: 0, expired: 1 });
  const day = tries("exponentialDecay", 86_400_000, false);
  const last = day.at.at(-1)!;
  assert.ok(last < 86_400_000 && last + 512_000 >= 86_400_000, `last try at ${last} ms`);
  assert.ok(last < 86_385_000, `last try at ${last} ms`);
  assert.equal(day.effect, "expired");
  assert.equal(tries("backoff", 86_400_000, false).at.length, 4, "the first try and 3 retries");
  assert.equal(tries("backoff", 86_400_000, false).effect, "dropped");
});
