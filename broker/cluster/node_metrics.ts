/**
 * The node's own lines of `/metrics` (Prometheus text): the log's size and flushes, the state
 * machine's applied index and bytes, the parked long polls, the RSS, and per queue (of the first
 * 1,000 by name, or as many as `--metrics-queue-series` says) its depths and the age of its oldest message, read at scrape time; and the messages
 * each queue dead-lettered, counted as this node applies them (`countDeadLetters`).
 *
 * @module
 */
import type { SegmentLog } from "../../storage/mod.ts";
import type { StateMachine } from "../engine/mod.ts";
import type { CounterChild, Metrics } from "../http/mod.ts";

/**
 * Counts into `metrics` the messages `machine` moves to a dead-letter queue from now on, by the
 * queue they left (`cmqd_messages_dead_lettered_total`). The count is not replicated state: each
 * node counts the entries it applies, so call this after the replica replayed its log at open (a
 * restart counts from 0, not the replayed moves again; after a crash, the entries applied past
 * the last persisted commit index are applied, and counted, again); entries inside a snapshot
 * installed from the leader are not counted either.
 *
 * A queue's series goes with the queue: dropped as this node applies its DeleteQueue (so a
 * queue created again under the name counts from 0), and at a scrape when the queue is gone
 * (its delete was inside a snapshot this node installed).
 *
 * @example
 * ```ts
 * countDeadLetters(machine, metrics);
 * ```
 */
export function countDeadLetters(machine: StateMachine, metrics: Metrics): void {
  const counter = metrics.counter(
    "cmqd_messages_dead_lettered_total",
    "Messages moved to their queue's dead-letter queue (too many receives, or the dead-letter TTL), by the queue they left, as this node applied them since it started (entries replayed at start and those inside a snapshot installed from the leader are not counted).",
  );
  // One series handle per source queue: a move then costs a map lookup and an addition.
  const series = new Map<string, CounterChild>();
  machine.onDeadLettered = (queue) => {
    let child = series.get(queue);
    if (child === undefined) {
      child = counter.labels({ queue });
      // Past the registry's series limit the handle counts nothing; it is not kept either.
      if (series.size < metrics.seriesMax) series.set(queue, child);
    }
    child.inc();
  };
  const drop = (queue: string) => {
    if (series.delete(queue)) counter.remove({ queue });
  };
  machine.onQueueDeleted = drop;
  metrics.onCollect(() => {
    for (const queue of series.keys()) {
      if (machine.queueMeta(queue) === undefined) drop(queue);
    }
  });
}

/**
 * Queues whose depth gauges a scrape lists by default (`--metrics-queue-series`): past them the
 * gauges are cut (bounded scrape cost; 10,000 queues made a 2.5 MB page, 1,000 make 0.26 MB).
 */
export const metricsQueueSeriesDefault = 1000;

/**
 * Renders the lines.
 *
 * @example
 * ```ts
 * const text = nodeMetricsText(log, machine, replica.now(), broker.parkedReceivers);
 * ```
 *
 * The depth gauges list the first `queueSeriesMax` queues by name (0: none); the others are
 * left out, not summed into a made-up `queue` (which a real queue could be named, and whose
 * value would jump as queues are created): `cmqd_queues` counts them all.
 */
export function nodeMetricsText(
  log: SegmentLog,
  machine: StateMachine,
  now: number,
  parkedReceives: number,
  queueSeriesMax: number = metricsQueueSeriesDefault,
): string {
  const stats = log.stats();
  const queues = queueSeriesMax === 0
    ? []
    : machine.listQueues({ limit: queueSeriesMax }, now).queues;
  const depth = (name: string, help: string, pick: (queue: typeof queues[0]) => number) => [
    `# HELP ${name} ${help}`,
    `# TYPE ${name} gauge`,
    ...queues.map((queue) => `${name}{queue="${queue.name}"} ${pick(queue)}`),
  ];
  const listed = queueSeriesMax === 0 ? "no queue" : `the first ${queueSeriesMax} by name`;
  const lines = [
    "# HELP cmqd_log_bytes Bytes of the segment log on disk.",
    "# TYPE cmqd_log_bytes gauge",
    `cmqd_log_bytes ${stats.bytes}`,
    "# HELP cmqd_log_segments Segments of the log.",
    "# TYPE cmqd_log_segments gauge",
    `cmqd_log_segments ${stats.segments}`,
    "# HELP cmqd_fsyncs_total fdatasync calls of the log.",
    "# TYPE cmqd_fsyncs_total counter",
    `cmqd_fsyncs_total ${stats.fsyncs}`,
    "# HELP cmqd_fsync_seconds_total Time of the log's flush rounds, each from its start to the event loop's continuation (its fdatasync calls and the hand-offs to and from the thread that runs them).",
    "# TYPE cmqd_fsync_seconds_total counter",
    `cmqd_fsync_seconds_total ${stats.fsyncMsTotal / 1000}`,
    "# HELP cmqd_applied_index Highest applied log index.",
    "# TYPE cmqd_applied_index gauge",
    `cmqd_applied_index ${machine.appliedIndex}`,
    "# HELP cmqd_state_machine_bytes Bytes held by the state machine's indexes.",
    "# TYPE cmqd_state_machine_bytes gauge",
    `cmqd_state_machine_bytes ${machine.memoryBytes()}`,
    "# HELP cmqd_parked_receives Long-poll receives waiting on this node now.",
    "# TYPE cmqd_parked_receives gauge",
    `cmqd_parked_receives ${parkedReceives}`,
    `# HELP cmqd_queues Queues in the cluster, as applied here (the per-queue gauges list ${listed}; --metrics-queue-series).`,
    "# TYPE cmqd_queues gauge",
    `cmqd_queues ${machine.queueCount}`,
    "# HELP process_resident_memory_bytes Resident set size of the process.",
    "# TYPE process_resident_memory_bytes gauge",
    `process_resident_memory_bytes ${Deno.memoryUsage().rss}`,
    ...depth("cmqd_queue_active_messages", "Messages visible now.", (q) => q.activeMessages),
    ...depth(
      "cmqd_queue_inflight_messages",
      "Messages locked by a receive.",
      (q) => q.inflightMessages,
    ),
    ...depth("cmqd_queue_delayed_messages", "Messages not yet visible.", (q) => q.delayedMessages),
    ...depth(
      "cmqd_queue_oldest_message_age_seconds",
      "Seconds since the oldest message not yet deleted (visible, in flight or delayed) entered the queue (sent, or moved in from another queue), in cluster time; 0 when the queue is empty.",
      (q) => q.oldestMessageAt === null ? 0 : Math.max(0, now - q.oldestMessageAt) / 1000,
    ),
  ];
  return lines.join("\n") + "\n";
}
