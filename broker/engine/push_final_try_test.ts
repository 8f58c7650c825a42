/**
 * A push failing throughout its retry window gets one final try shortly before the window ends
 * (PushResults layout 2, written by this release); PushResults in layout 1 keep giving the
 * message up at the failure whose next try would fall past the window. Replicas apply one log,
 * some of it replayed and some restored from a snapshot, maybe by an earlier release, so each
 * layout means the same on every one, and a release that reads layout 1 only refuses layout 2.
 */
import assert from "node:assert/strict";
import { MachineDriver } from "./_machine_driver.ts";
import { type AppliedEntry, CommandType } from "./types.ts";
import { encodePublishBatch, encodePushResults, encodeTopicCommand } from "./topic_commands.ts";
import { resolveTopicCreate } from "./topic_attributes.ts";
import { StateMachine } from "./state_machine.ts";
import { newerEntryError, NewerReleaseError } from "./release.ts";
import type { PushResultsResult } from "./topic_publish.ts";

/** A 60 s topic with one URL subscription (exponentialDecay) and one message waiting for it. */
function started(): { driver: MachineDriver; start: number; incarnation: number } {
  const driver = new MachineDriver();
  driver.apply(
    CommandType.CreateTopic,
    encodeTopicCommand({ topic: "pay", attributes: resolveTopicCreate({ retentionSeconds: 60 }) }),
  );
  driver.apply(
    CommandType.Subscribe,
    encodeTopicCommand({
      topic: "pay",
      subscription: "bank",
      attributes: { endpoint: { url: "https://bank.test/cb" } },
    }),
  );
  driver.apply(
    CommandType.PublishBatch,
    encodePublishBatch({ topic: "pay", messages: [{ body: "x" }] }),
  );
  const start = driver.now;
  const incarnation = driver.machine.topics.pushTargets()[0].subscriptionIncarnation;
  return { driver, start, incarnation };
}

function failure(incarnation: number, attempt: number): Uint8Array {
  return encodePushResults([{
    topic: "pay",
    subscription: "bank",
    subscriptionIncarnation: incarnation,
    sequence: 1,
    attempt,
    ok: false,
    error: "HTTP 503",
  }]);
}

/** The same bytes in another layout (the layouts differ in their version byte only). */
function inLayout(payload: Uint8Array, version: number): Uint8Array {
  const copy = payload.slice();
  copy[0] = version;
  return copy;
}

/** The release before layout 2: its PushResults decoder read layout 1 only. */
function applyAsPreviousRelease(snapshot: Uint8Array, entry: AppliedEntry): unknown {
  const machine = new StateMachine();
  machine.loadSnapshot(snapshot);
  if (entry.type === CommandType.PushResults && entry.payload[0] > 1) {
    throw newerEntryError(entry, entry.payload[0]);
  }
  return machine.apply(entry);
}

Deno.test("PushResults layout 2 gives a message failing throughout a 60 s topic a final try at 45 s; layout 1 gives it up at 31 s", () => {
  assert.equal(failure(1, 0)[0], 2, "the layout written");
  for (const layout of [1, 2]) {
    const { driver, start, incarnation } = started();
    const triedAt: number[] = [];
    let attempt = 0;
    for (;;) {
      const due = driver.machine.topics.getSubscription("pay", "bank")!.nextAttemptAt;
      if (due === null || due === undefined) break;
      triedAt.push(due - start);
      driver.now = due;
      const payload = inLayout(failure(incarnation, attempt++), layout);
      const entry = {
        index: driver.machine.appliedIndex + 1,
        timestamp: driver.now,
        type: CommandType.PushResults,
        payload,
      };
      // A replica restored from a snapshot just before applies the entry alike.
      const restored = StateMachine.restore(driver.machine.snapshot());
      if (layout === 2) {
        assert.throws(
          () => applyAsPreviousRelease(driver.machine.snapshot(), entry),
          NewerReleaseError,
        );
      }
      const result = driver.machine.apply(entry) as PushResultsResult;
      assert.deepEqual(result, { applied: 1, stale: 0 });
      restored.apply(entry);
      assert.deepEqual(restored.snapshot(), driver.machine.snapshot(), `layout ${layout}`);
    }
    const expected = layout === 2
      ? [0, 1_000, 3_000, 7_000, 15_000, 31_000, 45_000]
      : [0, 1_000, 3_000, 7_000, 15_000, 31_000];
    assert.deepEqual(triedAt, expected, `layout ${layout}`);
    const view = driver.machine.topics.getSubscription("pay", "bank")!;
    assert.equal(view.pendingMessages, 0);
    assert.equal(view.push!.expired, 1, `layout ${layout}`);
    assert.equal(view.push!.failures, expected.length, `layout ${layout}`);
    assert.equal(view.failedMessages, 1);
  }
});

Deno.test("the final try's success is delivered: its outcome applies before the retention's Tick", () => {
  const { driver, start, incarnation } = started();
  for (const [attempt, at] of [0, 1_000, 3_000, 7_000, 15_000, 31_000].entries()) {
    driver.now = start + at;
    driver.apply(CommandType.PushResults, failure(incarnation, attempt));
  }
  assert.equal(driver.machine.topics.getSubscription("pay", "bank")!.nextAttemptAt, start + 45_000);
  // Answered within the push request timeout (15 s): recorded before the window closes.
  driver.now = start + 59_000;
  const success = encodePushResults([{
    topic: "pay",
    subscription: "bank",
    subscriptionIncarnation: incarnation,
    sequence: 1,
    attempt: 6,
    ok: true,
    error: "",
  }]);
  assert.deepEqual(driver.apply(CommandType.PushResults, success), { applied: 1, stale: 0 });
  const view = driver.machine.topics.getSubscription("pay", "bank")!;
  assert.equal(view.deliveredMessages, 1);
  assert.deepEqual(view.push, { pushed: 1, failures: 6, retries: 6, dropped: 0, expired: 0 });
});
