/**
 * `countDeadLetters` drops a queue's count when the queue is gone without this node applying
 * its delete (the delete was inside a snapshot the node installed from its leader), keeps no
 * more counts than there are queues, and its total keeps every move.
 */
import assert from "node:assert/strict";
import { CommandType, encodeCreateQueue, resolveCreate, StateMachine } from "../engine/mod.ts";
import type { SegmentLog } from "../../storage/mod.ts";
import { countDeadLetters, type DeadLetterCounts, nodeMetricsText } from "./node_metrics.ts";

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

/** Whoever scrapes: the dead-letter series as `nodeMetricsText` renders them, and the total. */
function scrape(machine: StateMachine, counts: DeadLetterCounts, queueSeriesMax = 1000): string[] {
  const log = { stats: () => ({ bytes: 0, segments: 0, fsyncs: 0, fsyncMsTotal: 0 }) };
  const text = nodeMetricsText(log as SegmentLog, machine, 0, 0, counts, queueSeriesMax);
  return [...text.matchAll(/^cmqd_(?:messages_)?dead_lettered_(?:messages_)?total(.*) (\d+)$/gm)]
    .map((match) => `${/queue="(\w+)"/.exec(match[1])?.[1] ?? "all"} ${match[2]}`);
}

Deno.test("a queue gone by an installed snapshot loses its dead-letter series; the total keeps its moves", () => {
  const machine = created(new StateMachine(), ["jobs", "mail"]);
  const counts = countDeadLetters(machine);
  // What the machine reports as it applies moves out of `jobs` and `mail`.
  machine.onDeadLettered!("jobs");
  machine.onDeadLettered!("mail");
  assert.deepEqual(scrape(machine, counts), ["jobs 1", "mail 1", "all 2"]);
  // The leader's state, `mail` deleted there.
  machine.loadSnapshot(created(new StateMachine(), ["jobs"]).snapshot());
  assert.deepEqual(scrape(machine, counts), ["jobs 1", "all 2"]);
  machine.onDeadLettered!("jobs");
  machine.onDeadLettered!("mail"); // reported for a queue that is gone
  assert.deepEqual(scrape(machine, counts), ["jobs 2", "all 4"], "no series of a gone queue");
  // `jobs` deleted and created again inside a snapshot: another incarnation, counted from 0.
  machine.loadSnapshot(created(new StateMachine(), ["mail", "jobs"]).snapshot());
  assert.deepEqual(scrape(machine, counts), ["all 4"]);
  machine.onDeadLettered!("jobs");
  assert.deepEqual(scrape(machine, counts), ["jobs 1", "all 5"]);
});

Deno.test("the dead-letter series list the queues the depth gauges list; the total counts all", () => {
  const machine = created(new StateMachine(), ["a", "b", "c", "d"]);
  const counts = countDeadLetters(machine);
  for (const queue of ["d", "a", "c", "c"]) machine.onDeadLettered!(queue);
  assert.deepEqual(scrape(machine, counts, 2), ["a 1", "all 4"]);
  assert.deepEqual(scrape(machine, counts, 0), ["all 4"]);
  assert.deepEqual(scrape(machine, counts), ["a 1", "c 2", "d 1", "all 4"]);
});

Deno.test("dead-letter counts of queues gone by installed snapshots are not kept past the queue count", () => {
  const machine = created(new StateMachine(), ["q0", "q1", "q2"]);
  const counts = countDeadLetters(machine);
  for (let round = 0; round < 50; round++) {
    const names = [0, 1, 2].map((slot) => `r${round}q${slot}`);
    machine.loadSnapshot(created(new StateMachine(), names).snapshot());
    for (const name of names) machine.onDeadLettered!(name);
    assert.ok(counts.queuesKept <= machine.queueCount, `round ${round}: ${counts.queuesKept}`);
  }
  assert.equal(counts.total, 150);
});
