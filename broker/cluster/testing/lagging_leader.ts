/**
 * A node that has just become leader and has applied nothing yet of what its predecessor
 * committed, for the tests of the checks a write makes before it is proposed.
 *
 * @module
 */
import { EngineService, EngineTopicService } from "../../service/mod.ts";
import type { Proposer } from "../../replication/mod.ts";
import { StateMachine } from "../../engine/mod.ts";
import type { memoryEngine } from "./memory_engine.ts";

/**
 * The queue and topic services of a new leader of `old`'s group whose state machine has applied
 * the entries `old`'s replica holds up to `applied` only (default: none): its read barrier
 * applies all of them, as a replica's does once an entry of its own term commits, and so does
 * each of its proposals, which go to `old`'s replica (their results are its answers).
 * `barriers()` counts the read barriers taken; `limits` are its services' create limits.
 */
export function laggingLeader(
  old: ReturnType<typeof memoryEngine>,
  applied = 0,
  limits: { queuesMax?: number; topicsMax?: number } = {},
) {
  const machine = new StateMachine();
  let barriers = 0;
  const catchUp = (upTo = old.replica.lastIndex) => {
    for (let index = machine.appliedIndex + 1; index <= upTo; index++) {
      machine.apply(old.replica.entry(index));
    }
  };
  catchUp(applied);
  const proposer: Proposer = {
    propose: async (type, payload) => {
      try {
        return await old.replica.propose(type, payload);
      } finally {
        catchUp();
      }
    },
    readBarrier: () => {
      barriers++;
      catchUp();
      return Promise.resolve();
    },
    now: () => old.clock.now(),
  };
  // The entries of the group's log this node has not applied, as a replica counts them.
  const unappliedEntries = () => old.replica.lastIndex - machine.appliedIndex;
  const options = { proposer, machine, log: old.replica, unappliedEntries };
  const broker = new EngineService({
    ...options,
    timers: old.clock,
    randomSalt: () => 42,
    queuesMax: limits.queuesMax,
  });
  const topics = new EngineTopicService({ ...options, topicsMax: limits.topicsMax });
  return { broker, topics, machine, barriers: () => barriers };
}
