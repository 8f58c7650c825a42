/**
 * The node's own lines of `/metrics` (Prometheus text): the log's size and flushes, the state
 * machine's applied index and bytes, the parked long polls, the RSS, the messages of all queues
 * by state, and per queue (of the first 1,000 by name, or as many as `--metrics-queue-series`
 * says) its depths and the age of its oldest message, read at scrape time; and the messages
 * dead-lettered, in all and by the queue they left (for the queues listed), counted as this node
 * applies them (`countDeadLetters`).
 *
 * @module
 */
import type { SegmentLog } from "../../storage/mod.ts";
import type { StateMachine } from "../engine/mod.ts";

/**
 * The messages this node's machine moved to a dead-letter queue since `countDeadLetters` began
 * counting: in all (`total`), and by the queue they left. Not replicated state: each node counts
 * the entries it applies.
 */
export class DeadLetterCounts {
  /** Every move counted, whatever became of its queue since. */
  total = 0;
  /** By source queue: the incarnation counted (its CreateQueue's index) and its moves. */
  readonly #byQueue = new Map<string, { incarnation: number; moves: number }>();
  readonly #machine: StateMachine;

  constructor(machine: StateMachine) {
    this.#machine = machine;
  }

  /** Counts a move out of `queue`; its own count is kept only while the queue exists. */
  add(queue: string): void {
    this.total++;
    const meta = this.#machine.queueMeta(queue);
    if (meta === undefined) return;
    const kept = this.#byQueue.get(queue);
    if (kept !== undefined && kept.incarnation === meta.incarnation) {
      kept.moves++;
      return;
    }
    // Every kept count is of a queue that exists, or was gone by an installed snapshot (its
    // delete not applied here): at as many counts as queues, one at least is such; drop those.
    if (kept === undefined && this.#byQueue.size >= this.#machine.queueCount) this.#dropGone();
    this.#byQueue.set(queue, { incarnation: meta.incarnation, moves: 1 });
  }

  /** Forgets `queue`'s count (its delete applied: created again, it counts from 0). */
  drop(queue: string): void {
    this.#byQueue.delete(queue);
  }

  /** The moves out of `queue` as it exists now, or undefined when none (or it is gone). */
  of(queue: string): number | undefined {
    const kept = this.#byQueue.get(queue);
    if (kept === undefined) return undefined;
    return kept.incarnation === this.#machine.queueMeta(queue)?.incarnation
      ? kept.moves
      : undefined;
  }

  /** How many queues have a count kept (for tests). */
  get queuesKept(): number {
    return this.#byQueue.size;
  }

  #dropGone(): void {
    for (const queue of [...this.#byQueue.keys()]) {
      if (this.of(queue) === undefined) this.#byQueue.delete(queue);
    }
  }
}

/**
 * Counts the messages `machine` moves to a dead-letter queue from now on, by the queue they left
 * (`cmqd_messages_dead_lettered_total`, listed for the queues the depth gauges list) and in all
 * (`cmqd_dead_lettered_messages_total`). Call this after the replica replayed its log at open (a
 * restart counts from 0, not the replayed moves again; after a crash, the entries applied past
 * the last persisted commit index are applied, and counted, again); entries inside a snapshot
 * installed from the leader are not counted either.
 *
 * A queue's count goes with the queue: dropped as this node applies its DeleteQueue (so a queue
 * created again under the name counts from 0), and not shown once the queue is gone or is
 * another incarnation (its delete was inside a snapshot this node installed). The total keeps
 * every move.
 *
 * @example
 * ```ts
 * const deadLetters = countDeadLetters(machine);
 * ```
 */
export function countDeadLetters(machine: StateMachine): DeadLetterCounts {
  const counts = new DeadLetterCounts(machine);
  machine.onDeadLettered = (queue) => counts.add(queue);
  machine.onQueueDeleted = (queue) => counts.drop(queue);
  return counts;
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
 * const text = nodeMetricsText(log, machine, replica.now(), parked, countDeadLetters(machine));
 * ```
 *
 * The per-queue series (depths, and dead-lettered messages) list the first `queueSeriesMax`
 * queues by name (0: none); the others are left out, not summed into a made-up `queue` (which a
 * real queue could be named, and whose value would jump as queues are created): `cmqd_queues`
 * counts them all, and the unlabeled totals sum every queue (a pass over the queues' kept
 * counts, no view built: `StateMachine.depthTotals`).
 */
export function nodeMetricsText(
  log: SegmentLog,
  machine: StateMachine,
  now: number,
  parkedReceives: number,
  deadLetters: DeadLetterCounts,
  queueSeriesMax: number = metricsQueueSeriesDefault,
): string {
  const totals = machine.depthTotals(now);
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
    "# HELP cmqd_active_messages Messages visible now, in all queues (dead-letter queues included).",
    "# TYPE cmqd_active_messages gauge",
    `cmqd_active_messages ${totals.activeMessages}`,
    "# HELP cmqd_inflight_messages Messages locked by a receive, in all queues.",
    "# TYPE cmqd_inflight_messages gauge",
    `cmqd_inflight_messages ${totals.inflightMessages}`,
    "# HELP cmqd_delayed_messages Messages not yet visible, in all queues.",
    "# TYPE cmqd_delayed_messages gauge",
    `cmqd_delayed_messages ${totals.delayedMessages}`,
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
    `# HELP cmqd_messages_dead_lettered_total Messages moved to their queue's dead-letter queue (too many receives, or the dead-letter TTL), by the queue they left (of ${listed}; --metrics-queue-series), as this node applied them since it started (entries replayed at start and those inside a snapshot installed from the leader are not counted).`,
    "# TYPE cmqd_messages_dead_lettered_total counter",
    ...queues.flatMap((queue) => {
      const moves = deadLetters.of(queue.name);
      return moves === undefined
        ? []
        : [`cmqd_messages_dead_lettered_total{queue="${queue.name}"} ${moves}`];
    }),
    "# HELP cmqd_dead_lettered_messages_total Messages moved to a dead-letter queue, out of any queue (deleted ones included), as this node applied them since it started (counted as cmqd_messages_dead_lettered_total is).",
    "# TYPE cmqd_dead_lettered_messages_total counter",
    `cmqd_dead_lettered_messages_total ${deadLetters.total}`,
  ];
  return lines.join("\n") + "\n";
}
