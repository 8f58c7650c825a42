/**
 * The message move tasks a door started, and their loops (`move_tasks.ts` has the operations).
 *
 * A task runs in the background: StartMessageMoveTask answers once the task is remembered and
 * its loop launched. The loop moves the source's visible messages in batches, each one
 * replicated redrive of the service (back to the queues they came from, or to the task's
 * destination), until it has moved as many as the source had visible when the task started
 * (ApproximateNumberOfMessagesToMove), a batch moves fewer than it asked for (nothing movable is
 * left: the rest are in flight, delayed, or have no source queue left to go back to), it is
 * cancelled, or it fails (FAILED, see below). ApproximateNumberOfMessagesMoved grows as each batch
 * commits.
 *
 * Permissions: before each batch the task checks again, with the rules its Start used, that the
 * key that started it still may move the messages (`start`'s `checkPermissions`): a reload of the
 * keys that removed the key or took a permission away fails the task (FailureReason
 * `AccessDenied`) before its next batch; a batch already in flight finishes.
 *
 * Failures: a batch the service refuses ends the task FAILED (with `start`'s `sourceCreatedAt`,
 * each batch moves only from the queue created then: a source deleted, or deleted and created
 * again, is `QueueNotFound`, checked where the batch is applied), its FailureReason the error's query code (as SQS reports
 * `AWS.SimpleQueueService.NonExistentQueue`), but for the replica's refusals (`NoLeader`,
 * `NotReady`: an election, a leadership hand-off, a node too busy), which are retried after
 * their Retry-After, `refusalsMax` times in a row at most. A task's batches are the service's
 * redrive on the node that runs the task, which only its leader may propose: they
 * are not forwarded to another leader as requests are. So a task whose node no longer leads
 * (still refused after the retries) ends FAILED, its FailureReason `ServiceUnavailable:` and
 * SQS's words (`The task stopped on a temporary failure of the server…`, no replica's); the
 * messages it moved stay moved, the rest stay in the source for a new task to move. Such a
 * failure is also told to `report` (the node's log), with the replica's words: no client could
 * list the task, since every node, this one too, forwards the requests to the new leader, which
 * never heard of it.
 *
 * Pace: a batch moves at most `batchMessages` messages and, with MaxNumberOfMessagesPerSecond,
 * at most that rate's worth; the first starts at once, and each next one no sooner than the
 * previous one's share of time (its messages / rate seconds) after the previous one started,
 * so the task never moves faster than the rate over any stretch of batches. Without a rate the
 * batches follow one another as fast as the cluster commits them, each after a turn of the event
 * loop (a task never starves the requests the node serves). The pace is kept on the parts'
 * `time`, the node's monotonic clock and timers (`performance.now()` and `setTimeout` unless
 * given): each wait, the turn of the event loop too, is a timer of `time.timers`, so a test that
 * drives them moves the tasks with them.
 *
 * Cancel: a cancelled task starts no more batches. Cancelled between batches it is CANCELLED at
 * once; with a batch in flight it is CANCELLING until that batch ends (its messages stay moved),
 * then CANCELLED (or FAILED, if the batch failed).
 *
 * Close: the door's close stops every task as a cancel does, and the task ends CANCELLED, not
 * FAILED, when the node that is stopping refuses or abandons its batch in flight (the replica's
 * `NoLeader` or `NotReady`: the hand-off the node's close does first, then the replica's own
 * close), however many refusals came before: the task stopped because the node did, not because
 * its data or its leader failed it. That batch is not counted as moved (an abandoned one may still
 * have committed: ApproximateNumberOfMessagesMoved is approximate). Any other failure of the
 * batch (the destination deleted, `NodeRemoved`) ends it FAILED, as after a cancel. A leadership
 * loss while the task runs is no close: it ends FAILED as said above.
 *
 * The tasks are this door's memory on the node that serves it: not replicated, lost on restart
 * (or when the door closes), at most `tasksPerSourceMax` tasks per source queue (the most
 * recent; SQS lists at most 10) and `sourcesMax` source queues (the least recently started
 * forgotten first; a source with an active task is never forgotten). `close()` stops every loop
 * (no new batch; the one in flight, if any, settles) and resolves once none is left running: the
 * door's owner calls it before closing the service under it.
 *
 * @module
 */
import { BrokerError, isReplicaRefusal, type QueueService } from "./broker_deps.ts";
import { SqsError, toSqsError } from "./errors.ts";
import type { QueueRef } from "./queue_names.ts";

/** The statuses of a message move task, as SQS names them. */
export type MoveTaskStatus = "RUNNING" | "CANCELLING" | "COMPLETED" | "CANCELLED" | "FAILED";

/** One message move task, as this door remembers it. */
export interface MoveTask {
  handle: string;
  source: QueueRef;
  sourceArn: string;
  destination?: QueueRef;
  destinationArn?: string;
  /** MaxNumberOfMessagesPerSecond, when given. */
  rate?: number;
  status: MoveTaskStatus;
  moved: number;
  toMove: number;
  startedAt: number;
  failureReason?: string;
}

/** Limits of the door's task memory and of each task's batches. */
export interface MoveTaskLimits {
  /** Messages one replicated redrive of a task moves at most (default 10,000). */
  batchMessages?: number;
  /** Tasks remembered per source queue (default 10, what ListMessageMoveTasks can show). */
  tasksPerSourceMax?: number;
  /** Source queues whose tasks are remembered (default 1,000). */
  sourcesMax?: number;
  /**
   * Batches in a row the replica may refuse (`NoLeader`, `NotReady`) before the task fails;
   * each is retried after the refusal's Retry-After (default 5: some seconds, past an election).
   */
  refusalsMax?: number;
}

/** Timers as the node's are (`setTimer` answers a handle that `clearTimer` takes). */
export interface MoveTaskTimers {
  setTimer(delayMs: number, callback: () => void): unknown;
  clearTimer(handle: unknown): void;
}

/** The clock and timers that pace the tasks. */
export interface MoveTaskTime {
  /** Monotonic milliseconds (`performance.now()` in production). */
  clock: { now(): number };
  timers: MoveTaskTimers;
}

/** `performance.now()` and `setTimeout`: the default `MoveTaskTime`. */
const realTime: MoveTaskTime = {
  clock: { now: () => performance.now() },
  timers: {
    setTimer: (delayMs, callback) => setTimeout(callback, delayMs),
    clearTimer: (handle) => clearTimeout(handle as number),
  },
};

/** What the tasks run on. */
export interface MoveTaskParts {
  service: QueueService;
  /** The clock and timers of the pace (default `performance.now()` and `setTimeout`). */
  time?: MoveTaskTime;
  /** Where a task's unexpected failure (not the service's refusal) is reported. */
  logError: (message: string, error: unknown) => void;
  /**
   * Where a task the replica's refusals failed is told of (its node no longer leads, most
   * likely: then no client can list it, as the other nodes forward their requests to the
   * leader, this one too). Default: not told.
   */
  report?: (message: string) => void;
}

/** The loop of a task while it runs. */
interface Run {
  /** Cancelled, or the door closed: no new batch. */
  stop: boolean;
  /** Stopped by the door's close (see the module's note on Close). */
  closing: boolean;
  batchInFlight: boolean;
  /** Ends the pause under way, if any. */
  wake: (() => void) | null;
  /** Throws (SQS's AccessDenied) once the task's key may no longer move its messages. */
  checkPermissions: () => void;
  /** The source's `createdAt` at the task's start: each batch is of that queue only. */
  sourceCreatedAt?: number;
  ended: Promise<void>;
}

/** True while a task's loop runs (a second task of its source is refused). */
function isActive(task: MoveTask): boolean {
  return task.status === "RUNNING" || task.status === "CANCELLING";
}

/**
 * A replica's refusal of a batch: `NoLeader`, `NotReady` (an election, a hand-off, a node too
 * busy: retried), `NodeRemoved` (for good).
 */
function refusedByReplica(error: unknown): error is BrokerError {
  return error instanceof BrokerError && isReplicaRefusal(error.code);
}

/**
 * FailureReason of a task that `error` ended: the query code, and for a failure of the server's
 * (a replica's refusal) SQS's words; the replica's own go to the node's log.
 */
function failureReason(error: BrokerError | SqsError): string {
  const { queryCode } = toSqsError(error, () => {});
  if (!refusedByReplica(error)) return queryCode;
  return `${queryCode}: The task stopped on a temporary failure of the server. ` +
    "Start a new task to move the remaining messages.";
}

/** The message move tasks this door started, by source queue (its SQS name) and by handle. */
export class MoveTasks {
  readonly batchMessages: number;
  readonly #tasksPerSourceMax: number;
  readonly #sourcesMax: number;
  readonly #refusalsMax: number;
  readonly #parts: MoveTaskParts;
  readonly #time: MoveTaskTime;
  /** Newest last; a source's key is moved to the end when it gets a task. */
  readonly #bySource = new Map<string, MoveTask[]>();
  readonly #byHandle = new Map<string, MoveTask>();
  readonly #runs = new Map<MoveTask, Run>();
  #closed = false;

  constructor(parts: MoveTaskParts, limits: MoveTaskLimits = {}) {
    this.#parts = parts;
    this.#time = parts.time ?? realTime;
    this.batchMessages = limits.batchMessages ?? 10_000;
    this.#tasksPerSourceMax = limits.tasksPerSourceMax ?? 10;
    this.#sourcesMax = limits.sourcesMax ?? 1000;
    this.#refusalsMax = limits.refusalsMax ?? 5;
  }

  /** The active (running or cancelling) task of `source`, if any. */
  active(source: QueueRef): MoveTask | undefined {
    return this.#bySource.get(source.sqsName)?.find(isActive);
  }

  /**
   * Remembers a new task (forgetting the oldest ended ones past the limits) and launches its
   * loop, which starts the first batch at once. `checkPermissions` runs before each batch and
   * throws (SQS's `AccessDenied`, which fails the task) once the key that started the task may
   * no longer move its messages. `sourceCreatedAt`, when given, goes with each batch's redrive:
   * a source deleted and created again since (another queue) moves nothing and fails the task
   * (`QueueNotFound`), decided where the batch is applied. Refused once the door is closed.
   */
  start(task: MoveTask, checkPermissions: () => void = () => {}, sourceCreatedAt?: number): void {
    if (this.#closed) {
      throw new SqsError("ServiceUnavailable", "The node is shutting down; try another node.", {
        retryAfterSeconds: 1,
      });
    }
    this.#remember(task);
    const run: Run = {
      stop: false,
      closing: false,
      batchInFlight: false,
      wake: null,
      checkPermissions,
      sourceCreatedAt,
      ended: Promise.resolve(),
    };
    this.#runs.set(task, run);
    run.ended = this.#run(task, run);
  }

  /**
   * Stops a RUNNING task before its next batch: CANCELLED at once between batches, CANCELLING
   * while a batch is in flight. Answers the messages moved as of now.
   */
  cancel(task: MoveTask): number {
    const run = this.#runs.get(task);
    if (run !== undefined && task.status === "RUNNING") this.#stop(task, run);
    return task.moved;
  }

  /** Stops every task (see `cancel`) and resolves once no loop is left running. */
  async close(): Promise<void> {
    this.#closed = true;
    const runs = [...this.#runs];
    for (const [task, run] of runs) {
      run.closing = true;
      this.#stop(task, run);
    }
    await Promise.all(runs.map(([, run]) => run.ended));
  }

  /** The `count` most recent tasks of `source`, newest first. */
  recent(source: QueueRef, count: number): MoveTask[] {
    return (this.#bySource.get(source.sqsName) ?? []).slice(-count).reverse();
  }

  /** The task of `handle`, if remembered. */
  find(handle: string): MoveTask | undefined {
    return this.#byHandle.get(handle);
  }

  #remember(task: MoveTask): void {
    const key = task.source.sqsName;
    const tasks = this.#bySource.get(key) ?? [];
    this.#bySource.delete(key);
    this.#bySource.set(key, tasks);
    tasks.push(task);
    this.#byHandle.set(task.handle, task);
    while (tasks.length > this.#tasksPerSourceMax) {
      const ended = tasks.findIndex((each) => !isActive(each));
      if (ended < 0) break;
      this.#byHandle.delete(tasks.splice(ended, 1)[0].handle);
    }
    for (const [oldest, forgotten] of this.#bySource) {
      if (this.#bySource.size <= this.#sourcesMax) break;
      if (forgotten.some(isActive)) continue;
      this.#bySource.delete(oldest);
      for (const each of forgotten) this.#byHandle.delete(each.handle);
    }
  }

  #stop(task: MoveTask, run: Run): void {
    if (run.stop) return;
    run.stop = true;
    if (run.batchInFlight) {
      task.status = "CANCELLING";
    } else {
      task.status = "CANCELLED";
      run.wake?.();
    }
  }

  /** Waits `ms` (0: a turn of the event loop), or less when the task is stopped meanwhile. */
  #pause(run: Run, ms: number): Promise<void> {
    const { timers } = this.#time;
    return new Promise((resolve) => {
      const done = () => {
        timers.clearTimer(timer);
        run.wake = null;
        resolve();
      };
      const timer = timers.setTimer(ms, done);
      run.wake = done;
    });
  }

  /** The task's loop (see the module's note); never rejects. */
  async #run(task: MoveTask, run: Run): Promise<void> {
    const { service } = this.#parts;
    const { clock } = this.#time;
    const batchMax = Math.min(this.batchMessages, task.rate ?? Infinity);
    /** When the next batch may start (`clock` ms); the first may start at once. */
    let nextAt: number | undefined;
    /** The replica's refusals in a row. */
    let refusals = 0;
    try {
      while (!run.stop && task.moved < task.toMove) {
        if (nextAt !== undefined) await this.#pause(run, Math.max(0, nextAt - clock.now()));
        if (run.stop) break;
        run.checkPermissions();
        const asked = Math.min(batchMax, task.toMove - task.moved);
        nextAt = clock.now() + (task.rate === undefined ? 0 : (asked * 1000) / task.rate);
        run.batchInFlight = true;
        let moved: number;
        try {
          ({ moved } = await service.redrive(task.source.name, {
            destination: task.destination?.name,
            maxMessages: asked,
          }, { ifCreatedAt: run.sourceCreatedAt }));
        } catch (error) {
          const retried = refusedByReplica(error) && error.code !== "NodeRemoved";
          if (retried && run.closing) break; // the stopping node's refusal: CANCELLED
          if (!retried || refusals === this.#refusalsMax) throw error;
          refusals++;
          nextAt = clock.now() + (error.retryAfterSeconds ?? 1) * 1000;
          continue;
        } finally {
          run.batchInFlight = false;
        }
        refusals = 0;
        task.moved += moved;
        if (moved < asked) break;
      }
      task.status = run.stop ? "CANCELLED" : "COMPLETED";
    } catch (error) {
      task.status = "FAILED";
      if (error instanceof BrokerError || error instanceof SqsError) {
        task.failureReason = failureReason(error);
        if (refusedByReplica(error)) {
          this.#parts.report?.(
            `SQS message move task of ${task.source.sqsName} failed, ${task.moved} of ` +
              `${task.toMove} messages moved: ${error.code}: ${error.message} (the node that ` +
              "runs the task no longer leads the cluster, or can't write; its batches are " +
              "not forwarded)",
          );
        }
      } else {
        task.failureReason = "InternalFailure";
        this.#parts.logError(
          `SQS message move task of ${task.source.sqsName} failed: ${error}`,
          error,
        );
      }
    } finally {
      run.wake = null;
      this.#runs.delete(task);
    }
  }
}
