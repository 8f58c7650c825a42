/**
 * `countDeadLetters` drops a queue's series when the queue is gone without this node applying
 * its delete: the delete was inside a snapshot the node installed from its leader.
 */
import assert from "node:assert/strict";
import { CommandType, encodeCreateQueue, resolveCreate, StateMachine } from "../engine/mod.ts";
import { Metrics } from "../http/mod.ts";
import { countDeadLetters } from "./node_metrics.ts";

/** Applies the CreateQueue of each of `queues` to `machine`, from log index 1. */
function created(machine: StateMachine, queues: string[]): StateMachine {
  for (const [index, queue] of queues.entries()) {
    machine.apply({
      index: index + 1,
      timestamp: 1_700_000_000_000,
      type: CommandType.CreateQueue,
      payload: encodeCreateQueue({ queue, attributes: resolveCreate({}), salt: 1 }),
    });
  }
  return machine;
}

Deno.test("a queue gone by an installed snapshot loses its dead-letter series at the next scrape", () => {
  const machine = created(new StateMachine(), ["jobs", "mail"]);
  const metrics = new Metrics();
  countDeadLetters(machine, metrics);
  // What the machine reports as it applies moves out of `jobs` and `mail`.
  machine.onDeadLettered!("jobs");
  machine.onDeadLettered!("mail");
  const counts = () =>
    [...metrics.text().matchAll(/^cmqd_messages_dead_lettered_total\{queue="(\w+)"\} (\d+)$/gm)]
      .map((match) => `${match[1]} ${match[2]}`);
  assert.deepEqual(counts(), ["jobs 1", "mail 1"]);
  // The leader's state, `mail` deleted there.
  machine.loadSnapshot(created(new StateMachine(), ["jobs"]).snapshot());
  assert.deepEqual(counts(), ["jobs 1"]);
  machine.onDeadLettered!("jobs");
  machine.onDeadLettered!("mail"); // reported for a queue that is gone
  assert.deepEqual(counts(), ["jobs 2"], "a series of a queue that is gone is dropped");
});
