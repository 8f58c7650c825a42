/**
 * Shared setup of the engine's tests: an `EngineService` over an in-memory replica, driven by a
 * manual clock (or the wall clock).
 *
 * @module
 */
import assert from "node:assert/strict";
import { EngineService, type EngineServiceOptions, EngineTopicService } from "../../service/mod.ts";
import { ManualClock, MemoryReplica } from "../../replication/testing/mod.ts";
import { BrokerError, StateMachine } from "../../engine/mod.ts";
import { realClock, realTimers } from "../real_time.ts";

/**
 * The real engine on a one-node in-memory replica, with the clock that drives it, and its queue
 * and topic services. `randomSalt` fixes receipt-handle salts (default: the broker's own).
 */
export function memoryEngine(
  options:
    & Partial<
      Pick<
        EngineServiceOptions,
        "randomSalt" | "queuesMax" | "parkedReceivesMax" | "parkedReceivesKeyShare" | "admitData"
      >
    >
    & { topicsMax?: number } = {},
) {
  const { topicsMax, ...serviceOptions } = options;
  const clock = new ManualClock(1_700_000_000_000);
  const replica = new MemoryReplica({ clock, machine: new StateMachine() });
  const broker = new EngineService({
    proposer: replica,
    machine: replica.machine,
    log: replica,
    timers: clock,
    ...serviceOptions,
  });
  const topics = new EngineTopicService({
    proposer: replica,
    machine: replica.machine,
    log: replica,
    topicsMax,
    admitData: options.admitData,
  });
  return { clock, replica, broker, topics };
}

/**
 * The real engine on a one-node in-memory replica running on the wall clock and real timers, for
 * tests that drive it through real clients with timers of their own (the SQS SDK, long polls).
 */
export function wallClockEngine() {
  const replica = new MemoryReplica({ clock: realClock, machine: new StateMachine() });
  const broker = new EngineService({
    proposer: replica,
    machine: replica.machine,
    log: replica,
    timers: realTimers,
  });
  return { replica, broker };
}

/** The service tests' engine (fixed salts). */
export function setup() {
  return memoryEngine({ randomSalt: () => 42 });
}

/** Asserts the promise rejects with `code` (and `field`) and that nothing was proposed. */
export async function rejects(
  context: { replica: MemoryReplica<StateMachine> },
  promise: () => Promise<unknown>,
  expected: { code: string; field?: string },
): Promise<void> {
  const before = context.replica.lastIndex;
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof BrokerError, `not an BrokerError: ${error}`);
    assert.equal(error.code, expected.code, error.message);
    if (expected.field !== undefined) assert.equal(error.field, expected.field);
    return true;
  });
  assert.equal(context.replica.lastIndex, before, "a rejected request proposed something");
}

/** Lets timers and I/O callbacks queued now run. */
export const flush = () => new Promise((resolve) => setTimeout(resolve, 0));
