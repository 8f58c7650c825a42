/**
 * The push worker: on the leader only, it delivers the pending HTTP pushes of every URL
 * subscription and reports each outcome as a replicated command.
 *
 * Where the truth lives: the pending set, attempt counts and next-attempt times are engine state
 * (`PushSource` reads it); this worker keeps only what is in flight. An attempt's outcome names
 * the attempt count it started at, so a late outcome (after a failover, or one that raced a
 * retry) is ignored by the engine. A new leader therefore resumes exactly where the old one
 * stopped: it waits for its read barrier (everything committed is applied), then pushes what is
 * due; an attempt the old leader made but never recorded is made again (at-least-once).
 *
 * Isolation: at most `inflightPerSubscriptionMax` requests per subscription and `inflightMax`
 * overall; a subscription whose last attempt failed drops to one request at a time until one
 * succeeds (so a dead endpoint holds one slot, not 64, while it times out), and a new leader's
 * worker starts at one a subscription whose oldest pending push has failed; every request
 * has its own timeout, which ends when its status arrives (the status decides; the client bounds
 * the rest of the answer); subscriptions are served round-robin from a rotating start. A slow or
 * dead endpoint thus never holds up another's pushes while free slots remain.
 *
 * An unreachable endpoint (connection refused, no such host) fails at once, and would otherwise
 * be tried back to back, every pending message in turn: a full CPU, and about 100 bytes of log
 * per failure that the pending pushes keep from compaction, for as long as the backlog lives.
 * So after a failure that says the endpoint can take nothing now (no answer at all, or 429, 502,
 * 503, 504) the subscription pauses before its next request, `failurePauseMsMin` doubling per
 * such failure in a row up to `failurePauseMsMax`; an answer of another kind ends the pause. A
 * dead endpoint then costs about one attempt a second. Other failures (a 500, a 400 for one
 * message) say something about the message, so the next one goes out at once.
 *
 * Memory: the bodies the worker holds (read ahead and in flight, all subscriptions together) stay
 * within `heldBodyBytesMax` (passed by at most one body); past it, no more are read until some
 * are done with. A lane reads ahead no more than its limit allows in flight, so a failing lane
 * holds one body, not 64. Before both, a hundred failing subscriptions of 1 MiB messages held
 * 6 GiB of bodies read ahead. A lane holds at most its slots' part of them (4 MiB, at least one
 * body): before, a slow endpoint's 64 bodies of 1 MiB in flight stalled every other lane.
 *
 * Outcomes are batched into PushResults commands (up to `outcomesPerCommandMax`, at most
 * `outcomeProposalsMax` in flight), so a burst of pushes costs a few log entries, not one each.
 * A finished request frees its slot at once; the push is only kept out of the next passes until
 * its outcome is applied (at most `recordingMax` such pushes wait; past that, no new request
 * starts). If the proposal fails, its outcomes are proposed again after a pause (stale if
 * applied by then); before, the pushes went out again, with no leader change.
 *
 * A message whose body can't be read back: a read that finds damage (a bad CRC) or an I/O error
 * fails the replica, as a receive's does; this node stops leading and pushing there (the pass
 * that read it included), and the next leader pushes from its own copy. Any other failure to read
 * one message leaves that push out for now: the subscription's other pushes go on, it is read
 * again after `unreadableRetryMsMin` (doubling up to `unreadableRetryMsMax`) until it reads or
 * no longer waits (expired), reported once (`logError`, and the `unreadable` gauge). Before, the
 * whole read threw on every pass, and the subscription got no push at all.
 *
 * Time and I/O are injected (`clock`, `timers`, `fetch`), so the simulation drives it.
 *
 * @module
 */
import type { PushDelivery, PushOutcome, PushSource, PushTarget } from "../service/mod.ts";
import { endpointUnavailable, unbuildableError } from "./attempt_errors.ts";
import { type PushRequest, pushRequest } from "./push_request.ts";
import { type PushLimits, pushLimitsDefault } from "./push_limits.ts";
import { RequestDeadlines } from "./request_deadlines.ts";
import { UnreadablePushes } from "./unreadable_pushes.ts";
import type {
  PushFetch,
  PushTimers,
  PushWorkerOptions,
  PushWorkerStats,
} from "./push_worker_types.ts";

export type { PushFetch, PushTimers, PushWorkerOptions, PushWorkerStats };

/** Due pushes read ahead per subscription (bodies included, so kept small). */
const readAheadPerSubscription = 64;

/** One subscription's lane: what is in flight and how much it may have. */
interface Lane {
  target: PushTarget;
  /** Sequences whose request is in flight (they count against the limits). */
  inflight: Set<number>;
  /** Sequences whose request finished and whose outcome is not applied yet (only skipped). */
  recording: Set<number>;
  /** Due pushes read ahead, not started yet (oldest first), and their sequences. */
  queued: PushDelivery[];
  queuedSequences: Set<number>;
  /** 1 after a failure, doubling on success up to the per-subscription maximum. */
  limit: number;
  /** Attempts in a row that found the endpoint unreachable or unavailable. */
  failuresInRow: number;
  /** Body sizes of its deliveries read ahead or in flight (its part of `#heldBodyBytes`). */
  heldBytes: number;
  /** No request starts before this time (set by such a failure, cleared by any other answer). */
  pausedUntil: number;
  /** Due pushes whose message could not be read, left out until their next read. */
  unreadable: UnreadablePushes;
}

interface QueuedOutcome {
  outcome: PushOutcome;
  release: () => void;
}

/**
 * Delivers pending pushes while this node leads.
 *
 * @example
 * ```ts
 * const worker = new PushWorker({ source: topics, fetch, clock, timers });
 * replica.onRoleChange((change) => change.role === "leader" ? worker.start() : worker.stop());
 * ```
 */
export class PushWorker {
  readonly #source: PushSource;
  readonly #fetch: PushFetch;
  readonly #clock: { now(): number };
  readonly #timers: PushTimers;
  readonly #limits: PushLimits;
  readonly #onPushed?: (latencyMs: number) => void;
  readonly #logError: (message: string, error: unknown) => void;
  /** Bumped by start and stop: callbacks of an older generation do nothing. */
  #generation = 0;
  #running = false;
  /** Set once the read barrier of this generation passed: nothing is pushed before. */
  #ready = false;
  #lanes = new Map<string, Lane>();
  #inflight = 0;
  #recording = 0;
  /** Body sizes of the deliveries read ahead or in flight (see `heldBodyBytesMax`). */
  #heldBodyBytes = 0;
  #rotation = 0;
  #wakeTimer: unknown = null;
  /** Timers of queued passes and proposal retries: stop clears them (their work is void then). */
  readonly #laterTimers = new Set<unknown>();
  #pumpQueued = false;
  /** The timeouts of the requests in flight. */
  readonly #deadlines: RequestDeadlines;
  #outcomes: QueuedOutcome[] = [];
  #proposals = 0;
  #requests = 0;
  #failures = 0;

  constructor(options: PushWorkerOptions) {
    this.#source = options.source;
    this.#fetch = options.fetch;
    this.#clock = options.clock;
    this.#timers = options.timers;
    this.#limits = { ...pushLimitsDefault, ...options.limits };
    this.#deadlines = new RequestDeadlines(
      this.#timers,
      this.#clock,
      this.#limits.requestTimeoutMs,
    );
    this.#onPushed = options.onPushed;
    this.#logError = options.logError ?? ((message, error) => console.error(message, error));
    this.#source.onPushPending(() => this.#queuePump());
  }

  /** Counters and state. */
  stats(): PushWorkerStats {
    return {
      requests: this.#requests,
      failures: this.#failures,
      inflight: this.#inflight,
      recording: this.#recording,
      unreadable: [...this.#lanes.values()].reduce((sum, lane) => sum + lane.unreadable.size, 0),
      running: this.#running,
    };
  }

  /**
   * Starts pushing (idempotent): once the read barrier confirms this node leads and has applied
   * everything committed, pushes what is due. Retries the barrier while started.
   */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    const generation = ++this.#generation;
    const begin = () => {
      this.#source.barrier().then(
        () => {
          if (generation !== this.#generation) return;
          this.#ready = true;
          this.#pump();
        },
        () => {
          if (generation !== this.#generation) return;
          this.#setWake(this.#limits.retryAfterFailedProposalMs, begin);
        },
      );
    };
    begin();
  }

  /** Stops pushing: aborts requests in flight and forgets them (their outcomes are not sent). */
  stop(): void {
    if (!this.#running) return;
    this.#running = false;
    this.#ready = false;
    this.#generation++;
    this.#clearWake();
    for (const handle of this.#laterTimers) this.#timers.clearTimer(handle);
    this.#laterTimers.clear();
    this.#deadlines.abortAll();
    this.#lanes = new Map();
    this.#outcomes = [];
    this.#inflight = 0;
    this.#recording = 0;
    this.#heldBodyBytes = 0;
    this.#proposals = 0;
    this.#pumpQueued = false;
  }

  #setWake(delayMs: number, callback: () => void): void {
    this.#clearWake();
    this.#wakeTimer = this.#timers.setTimer(delayMs, () => {
      this.#wakeTimer = null;
      callback();
    });
  }

  #clearWake(): void {
    if (this.#wakeTimer !== null) this.#timers.clearTimer(this.#wakeTimer);
    this.#wakeTimer = null;
  }

  /** Runs `callback` after `delayMs` unless the worker stops first. */
  #later(delayMs: number, callback: () => void): void {
    const handle = this.#timers.setTimer(delayMs, () => {
      this.#laterTimers.delete(handle);
      callback();
    });
    this.#laterTimers.add(handle);
  }

  /** Coalesces wake-ups (a publish, an outcome) into one pass on the next timer turn. */
  #queuePump(): void {
    if (!this.#ready || this.#pumpQueued) return;
    this.#pumpQueued = true;
    const generation = this.#generation;
    this.#later(0, () => {
      if (generation !== this.#generation) return;
      this.#pumpQueued = false;
      this.#pump();
    });
  }

  /** One pass: start what is due and allowed, then sleep until the next due push. */
  #pump(): void {
    if (!this.#ready) return;
    const generation = this.#generation;
    const now = this.#clock.now();
    const targets = this.#source.pushTargets();
    this.#forgetLanes(targets);
    const count = targets.length;
    const start = count === 0 ? 0 : this.#rotation++ % count;
    const busy = () =>
      this.#inflight >= this.#limits.inflightMax || this.#recording >= this.#limits.recordingMax;
    let pauseEnds = Infinity;
    for (let step = 0; step < count && !busy(); step++) {
      const target = targets[(start + step) % count];
      const lane = this.#laneOf(target);
      if (lane.pausedUntil > now) {
        pauseEnds = Math.min(pauseEnds, lane.pausedUntil);
        continue;
      }
      const free = Math.min(
        lane.limit - lane.inflight.size,
        this.#limits.inflightMax - this.#inflight,
      );
      if (free <= 0) continue;
      if (lane.queued.length < free && !this.#refill(lane, now)) {
        // A read that failed the replica stopped this worker (its role changed): so does the pass.
        if (generation !== this.#generation) return;
        continue;
      }
      this.#startQueued(lane, free);
    }
    const next = this.#source.nextPushAt();
    const idle = this.#limits.idleCheckMs;
    const due = next === null || next <= now ? idle : Math.min(idle, next - now);
    this.#setWake(Math.min(due, pauseEnds - now), () => this.#pump());
  }

  /**
   * Tops up a lane's queue of due pushes. Reading ahead `readAheadPerSubscription` at a time
   * keeps the cost of skipping what is in flight or being recorded (the heap walk visits those
   * first) to one walk per batch instead of one per pass.
   */
  #refill(lane: Lane, now: number): boolean {
    const { heldBodyBytesMax, inflightPerSubscriptionMax, inflightMax } = this.#limits;
    const room = heldBodyBytesMax - this.#heldBodyBytes;
    // Nothing held: one body is read whatever its size, so the worker never stalls.
    if (room <= 0 && this.#heldBodyBytes > 0) return true;
    // A lane's part of the bodies is its part of the slots (see the module), at least one body.
    const share = heldBodyBytesMax * Math.min(1, inflightPerSubscriptionMax / inflightMax);
    const laneRoom = share - lane.heldBytes;
    if (laneRoom <= 0 && lane.heldBytes > 0) return true;
    if (lane.unreadable.size > 0) {
      const { target } = lane;
      lane.unreadable.prune(now, (sequence, at) => this.#source.pushPending(target, sequence, at));
    }
    const generation = this.#generation;
    let more: PushDelivery[];
    try {
      more = this.#source.duePushes(lane.target, now, {
        limit: Math.min(readAheadPerSubscription, lane.limit) - lane.queued.length,
        skip: (sequence) =>
          lane.inflight.has(sequence) || lane.recording.has(sequence) ||
          lane.queuedSequences.has(sequence) || lane.unreadable.waiting(sequence, now),
        bodyBytesMax: Math.max(0, Math.min(room, laneRoom)),
        unreadable: (push, error) => this.#unreadable(lane, push, error, now),
      });
    } catch (error) {
      const { topic, subscription } = lane.target;
      this.#logError(`push: reading ${topic}/${subscription} failed`, error);
      return false;
    }
    if (generation !== this.#generation) return false; // stopped meanwhile: not this worker's
    for (const delivery of more) {
      if (lane.unreadable.size > 0) lane.unreadable.read(delivery.sequence);
      lane.queued.push(delivery);
      lane.queuedSequences.add(delivery.sequence);
      this.#heldBodyBytes += delivery.body.length;
      lane.heldBytes += delivery.body.length;
    }
    return true;
  }

  /** A due push whose message could not be read: left out for now, reported the first time. */
  #unreadable(
    lane: Lane,
    push: { sequence: number; attempt: number },
    error: unknown,
    now: number,
  ): void {
    const { unreadableRetryMsMin: retryMsMin, unreadableRetryMsMax: retryMsMax } = this.#limits;
    if (!lane.unreadable.failed(push, now, { retryMsMin, retryMsMax })) return;
    const { topic, subscription } = lane.target;
    this.#logError(
      `push: message ${push.sequence} of ${topic}/${subscription} can't be read; the ` +
        "subscription's other pushes go on, and this one is read again (the wait doubling up " +
        `to ${retryMsMax} ms) until it reads or no longer waits`,
      error,
    );
  }

  /**
   * Starts up to `count` of the lane's read-ahead. One that no longer waits (its subscription
   * was deleted, or it expired, while it sat here) is dropped unsent: before, a subscription
   * deleted with pushes read ahead still got them, one more per answer of those in flight.
   */
  #startQueued(lane: Lane, count: number): void {
    let started = 0;
    while (started < count && lane.queued.length > 0) {
      const delivery = lane.queued.shift()!;
      lane.queuedSequences.delete(delivery.sequence);
      if (!this.#source.pushPending(lane.target, delivery.sequence, delivery.attempt)) {
        this.#heldBodyBytes -= delivery.body.length;
        lane.heldBytes -= delivery.body.length;
        continue;
      }
      this.#deliver(lane, delivery);
      started++;
    }
  }

  #laneKey(target: PushTarget): string {
    return `${target.subscriptionIncarnation}:${target.topic}/${target.subscription}`;
  }

  #laneOf(target: PushTarget): Lane {
    const key = this.#laneKey(target);
    let lane = this.#lanes.get(key);
    if (lane === undefined) {
      lane = {
        target,
        inflight: new Set(),
        recording: new Set(),
        queued: [],
        queuedSequences: new Set(),
        // Known to fail (a new leader learns it from the replicated state): one at a time, so
        // a dead endpoint never holds more than one slot while it times out.
        limit: target.failing ? 1 : this.#limits.inflightPerSubscriptionMax,
        failuresInRow: 0,
        heldBytes: 0,
        pausedUntil: 0,
        unreadable: new UnreadablePushes(),
      };
      this.#lanes.set(key, lane);
    } else {
      // The key leaves out what a PATCH may change (the format): take this pass's target.
      lane.target = target;
    }
    return lane;
  }

  /** Drops lanes of subscriptions that are gone and have nothing in flight. */
  #forgetLanes(targets: PushTarget[]): void {
    if (this.#lanes.size <= targets.length) return;
    const live = new Set(targets.map((target) => this.#laneKey(target)));
    for (const [key, lane] of this.#lanes) {
      const idle = lane.inflight.size === 0 && lane.recording.size === 0;
      if (live.has(key) || !idle) continue;
      for (const delivery of lane.queued) this.#heldBodyBytes -= delivery.body.length;
      this.#lanes.delete(key);
    }
  }

  #deliver(lane: Lane, delivery: PushDelivery): void {
    const generation = this.#generation;
    lane.inflight.add(delivery.sequence);
    this.#inflight++;
    this.#requests++;
    const controller = new AbortController();
    let timedOut = false;
    this.#deadlines.watch(controller, () => {
      timedOut = true;
      controller.abort();
    });
    const attempt = async (): Promise<string> => {
      let request: PushRequest;
      try {
        request = pushRequest(lane.target, delivery);
      } catch (error) {
        // Inside the attempt: a throw here escaped the pass, held its slot forever and, as an
        // unhandled rejection, ended the process. It is this message's failure, not the worker's.
        const { topic, subscription } = lane.target;
        this.#logError(
          `push: the request of message ${delivery.sequence} of ${topic}/${subscription} can't ` +
            "be built",
          error,
        );
        return unbuildableError(error);
      }
      const { url, init } = request;
      try {
        const response = await this.#fetch(url, {
          ...init,
          signal: controller.signal,
          // A status that came in time decides: a body still arriving at the timeout (a status
          // sent 14 s in) made a 2xx a failed attempt, and the endpoint got the message again.
          onHead: () => this.#deadlines.answered(controller),
        });
        // The body is not needed; cancelling it frees the connection.
        await response.body?.cancel().catch(() => {});
        return response.status >= 200 && response.status < 300 ? "" : `HTTP ${response.status}`;
      } catch (error) {
        if (timedOut) return `timeout after ${this.#limits.requestTimeoutMs} ms`;
        return `request failed: ${error instanceof Error ? error.message : String(error)}`;
      }
    };
    attempt().then((error) => {
      this.#deadlines.done(controller);
      if (generation !== this.#generation) return;
      this.#settle(lane, delivery, error);
    }).catch((error) => {
      // A hook's bug (`onPushed`), not the message's: logged, the worker goes on (`#settle` frees
      // the slot and queues the outcome first). Unhandled, it ended the process.
      const { topic, subscription } = lane.target;
      this.#logError(
        `push: settling message ${delivery.sequence} of ${topic}/${subscription}`,
        error,
      );
    });
  }

  /** Records the outcome of one attempt (queued for the next PushResults command). */
  #settle(lane: Lane, delivery: PushDelivery, error: string): void {
    const ok = error === "";
    // The request's slot is free now; the push stays out of the next passes until recorded.
    lane.inflight.delete(delivery.sequence);
    this.#inflight--;
    this.#heldBodyBytes -= delivery.body.length;
    lane.heldBytes -= delivery.body.length;
    lane.recording.add(delivery.sequence);
    this.#recording++;
    if (!ok && endpointUnavailable(error)) {
      const { failurePauseMsMin, failurePauseMsMax } = this.#limits;
      const doublings = Math.min(lane.failuresInRow++, 30);
      const pauseMs = Math.min(failurePauseMsMax, failurePauseMsMin * 2 ** doublings);
      lane.pausedUntil = Math.max(lane.pausedUntil, this.#clock.now() + pauseMs);
    } else {
      lane.failuresInRow = 0;
      lane.pausedUntil = 0;
    }
    if (ok) {
      lane.limit = Math.min(this.#limits.inflightPerSubscriptionMax, lane.limit * 2);
    } else {
      lane.limit = 1;
      this.#failures++;
    }
    const target = lane.target;
    this.#outcomes.push({
      outcome: {
        topic: target.topic,
        subscription: target.subscription,
        subscriptionIncarnation: target.subscriptionIncarnation,
        sequence: delivery.sequence,
        attempt: delivery.attempt,
        ok,
        error: error.slice(0, 256),
      },
      release: () => {
        lane.recording.delete(delivery.sequence);
        this.#recording--;
      },
    });
    this.#flushOutcomes();
    this.#continueLane(lane);
    if (ok) this.#onPushed?.(this.#clock.now() - delivery.publishTime);
  }

  /**
   * A steady stream goes on from the lane's read-ahead at once; a pass tops it up when empty, or
   * (a paused lane) arms the wake-up for the pause's end.
   */
  #continueLane(lane: Lane): void {
    if (lane.pausedUntil > this.#clock.now()) {
      this.#queuePump();
      return;
    }
    const free = Math.min(
      lane.limit - lane.inflight.size,
      this.#limits.inflightMax - this.#inflight,
    );
    if (lane.queued.length > 0 && free > 0 && this.#recording < this.#limits.recordingMax) {
      this.#startQueued(lane, free);
    }
    if (lane.queued.length === 0) this.#queuePump();
  }

  #flushOutcomes(): void {
    const generation = this.#generation;
    while (this.#proposals < this.#limits.outcomeProposalsMax && this.#outcomes.length > 0) {
      const batch = this.#outcomes.splice(0, this.#limits.outcomesPerCommandMax);
      this.#proposals++;
      const outcomes = batch.map((item) => item.outcome);
      // A source that throws instead of rejecting fails the proposal the same way.
      new Promise((resolve) => resolve(this.#source.recordPushOutcomes(outcomes))).then(
        () => this.#afterProposal(generation, batch, true),
        (error) => {
          if (generation === this.#generation) {
            this.#logError(`push: recording ${batch.length} outcomes failed`, error);
          }
          this.#afterProposal(generation, batch, false);
        },
      );
    }
  }

  #afterProposal(generation: number, batch: QueuedOutcome[], recorded: boolean): void {
    if (generation !== this.#generation) return;
    this.#proposals--;
    if (recorded) {
      for (const item of batch) item.release();
      this.#queuePump();
    } else {
      // Proposed again, never sent again (see the module): the pushes stay recording.
      this.#later(this.#limits.retryAfterFailedProposalMs, () => {
        if (generation !== this.#generation) return;
        this.#outcomes.unshift(...batch);
        this.#flushOutcomes();
      });
    }
    this.#flushOutcomes();
  }
}
