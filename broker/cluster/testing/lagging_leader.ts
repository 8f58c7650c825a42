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
 * `barriers()` counts the read barriers taken.
 */
export function laggingLeader(old: ReturnType<typeof memoryEngine>, applied = 0) {
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
  const options = { proposer, machine, log: old.replica };
  const broker = new EngineService({ ...options, timers: old.clock, randomSalt: () => 42 });
  const topics = new EngineTopicService(options);
  return { broker, topics, machine, barriers: () => barriers };
}
