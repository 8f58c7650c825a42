/**
 * `Consumer`: a receive loop that runs up to `concurrency` handlers at once and takes care of
 * deletes, retries, lock renewal and errors.
 *
 * - **Receiving**: up to `receivesInFlight` receives at once (default: as many batches as
 *   `concurrency` holds, at most 4), each asking for free handler slots no other receive in
 *   flight has claimed (≤ `batchSize`); no message is ever received that has no slot, so none
 *   waits locked in a local buffer. With one receive at a time, a consumer waits a whole round
 *   trip (the broker's fsync of the locks included) between batches while its handlers idle. A handler that returns without a promise is over at once, so its
 *   slot is free (and its delete pending) before the loop looks again: the next receive leaves
 *   without a timer or a microtask in between.
 * - **Success** (the handler resolves): the message is deleted — its receipt handle rides on the
 *   next receive (`deleteReceiptHandles`), or goes in an explicit delete after `deleteLingerMs`
 *   when no receive is coming (see `consumer_acks.ts`). A receive carrying deletes asks without
 *   a long-poll wait (the broker applies them before looking for messages either way, but its
 *   answer would wait for the poll to end on an empty queue); an empty answer to it is followed
 *   at once by a receive that long-polls.
 * - **Failure** (the handler throws): `onError(error, message)`, then the message's lock is
 *   shortened to `retryDelaySeconds(message.receiveCount)` so it comes back after that delay
 *   (default: exponential with jitter, 1 s doubling to 300 s).
 * - **Lock renewal**: a handler still running at half of its message's lock extends the lock by
 *   `visibilityTimeoutSeconds`, and again at half of each new lock. Lock times are measured on
 *   the local clock from the moment the receive (or renewal) was *sent*, which is never later
 *   than the broker's own start of the lock, so clock skew can't make a renewal late. A renewal
 *   waits for a lock-change call of other messages only while `changeCallsMax` (4) calls are on
 *   the wire, and then at most until the first of them is answered or given up; one of its own is
 *   given up at half of the lock's time left (at least 250 ms, at most 30 s or the client's
 *   longer `timeoutMs`) and the renewal sent again at once, while the lock still holds — a lock of 1 s included (see `consumer_acks.ts`).
 *   Unanswered renewals may have been applied, so renewals go on while the handler runs until the
 *   broker answers, paced by the soonest deadline the lock may have (`consumer_lock.ts`); one the
 *   broker refuses (the lock ran out; or the request itself, for good: the queue was deleted, the
 *   key removed or its permission taken away — 401, 403 —, see `refusedForGood`) aborts the
 *   handler's `signal`, and its message then gets no
 *   retry delay or release (its lock is gone; the message may be delivered again). In an outage
 *   every held message's renewals fail, a few per lock period each (an unanswered one is sent
 *   again no sooner than an eighth of the lock later): only the first of an outage
 *   goes to `onError`, the others are counted (`stats.renewalsUnanswered`) until the broker
 *   answers a renewal again, which ends the outage (a refusal is always reported).
 * - **FIFO queues**: the broker delivers one message per group at a time, and the next only
 *   after the current one is deleted. The consumer keeps that intact: a failed message is never
 *   released early or re-sent, only re-locked for its retry delay (its group waits behind it);
 *   a running handler's lock is renewed so no second copy starts while it runs; and nothing is
 *   received beyond free slots, so nothing of a group waits locked behind a busy handler.
 * - **Errors** of receives (network, 503, 404 …) go to `onError` and are retried after a back-off
 *   (`receiveBackoff`, jittered, capped); an empty answer that came back before its wait was up
 *   also backs off, so the loop never spins. Without `onError` errors are logged with
 *   `console.error`: nothing is swallowed.
 * - **Stopping**: `stop()` ends the long polls, waits for running handlers, then flushes deletes
 *   and lock changes, each call given up after 30 s at most without an answer, or after the
 *   client's `timeoutMs` when that is longer and finite (a lock change's sooner still at half of
 *   its lock's time left). In an outage the
 *   releases at stop fail for every held message: only the first goes to `onError`, the others
 *   are counted (`stats.releasesUnanswered`), as renewals are. (Ending the poll aborts its request; a message the broker locked for it in
 *   that very instant comes back when that lock runs out.) `stop({ abort: true })` also aborts the handlers' `signal`; a handler that
 *   then rejects has its message released at once (visibility 0) rather than counted as failed.
 *
 * The async-iterator form, `for await (const message of consumer)`, is in
 * `consumer_iterator.ts`; its deletion rule is documented on `Delivery`.
 *
 * @module
 */
import { Acknowledger, batchEntriesMax, type ConsumerClient } from "./consumer_acks.ts";
import { type Delivery, DeliveryIterator, leftLoop, unprocessed } from "./consumer_iterator.ts";
import { LockTimes } from "./consumer_lock.ts";
import { type FirstRenewal, isThenable, RunContext, type Running } from "./consumer_run.ts";
import { checkReceiveAnswer } from "./consumer_checks.ts";
import { checkBackoff, checkFunction, checkInteger, checkMs } from "./option_checks.ts";
import type { ConsumerOptions, ConsumerStats, MessageHandler } from "./consumer_options.ts";
import { CmqdError } from "./errors.ts";
import type { ReceivedMessage } from "./protocol.ts";
import { Backoff, type BackoffBounds, exponentialRetryDelaySeconds, sleep } from "./retry.ts";

export type { ConsumerClient } from "./consumer_acks.ts";
export type {
  ConsumerOptions,
  ConsumerStats,
  HandlerContext,
  MessageHandler,
} from "./consumer_options.ts";

/**
 * An unanswered renewal is sent again no sooner than an eighth of the lock later (within these
 * bounds): each unanswered renewal is one more deadline the lock may have, so, paced by the
 * soonest of them alone, renewals that fail at once (every node down, connections refused)
 * crowded towards one per `renewRetryMsMin` per message. An eighth leaves three tries before the
 * first deadline (at a half, three quarters and seven eighths of the lock) and at most eight a
 * lock period after it.
 */
const renewRetryMsMin = 100;
const renewRetryMsMax = 5_000;
const idleBackoff: BackoffBounds = { backoffMsMin: 50, backoffMsMax: 1_000 };
const visibilitySecondsMax = 43_200;

/**
 * Consumes one queue with a handler, or as an async iterator.
 *
 * @example
 * ```ts
 * const consumer = new Consumer(client, "images", {
 *   concurrency: 8,
 *   visibilityTimeoutSeconds: 30,
 *   handleMessage: async (message, { signal }) => await makeThumbnail(message.body, signal),
 *   onError: (error, message) => console.warn(message?.id, error),
 * });
 * consumer.start();
 * // …
 * await consumer.stop();
 * ```
 */
export class Consumer implements AsyncIterable<Delivery> {
  readonly #client: ConsumerClient;
  readonly #queue: string;
  readonly #concurrency: number;
  readonly #batchSize: number;
  readonly #receivesInFlight: number;
  readonly #lockSeconds: number;
  readonly #waitSeconds: number;
  readonly #retryDelaySeconds: (attempt: number) => number;
  readonly #onError: (error: unknown, message?: ReceivedMessage) => void;
  readonly #handleMessage: MessageHandler | undefined;
  readonly #receiveBackoff: Backoff;
  readonly #idleBackoff = new Backoff(idleBackoff);
  readonly #acks: Acknowledger;
  readonly #running = new Set<Running>();
  /** Aborts the parked long polls and the back-off sleeps at stop. */
  readonly #stopController = new AbortController();
  /** Slots asked for by receives in flight: not free for another receive. */
  #claimed = 0;
  #slotWaiters: (() => void)[] = [];
  #loop: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #iterator: DeliveryIterator | undefined;
  #stats = {
    received: 0,
    handled: 0,
    failed: 0,
    interrupted: 0,
    renewed: 0,
    locksLost: 0,
    renewalsUnanswered: 0,
    releasesUnanswered: 0,
  };
  /** A renewal got no answer and none was answered since: the next unanswered is not reported. */
  #renewalOutage = false;
  /** A release got no answer and none was answered since: the next unanswered is not reported. */
  #releaseOutage = false;
  #deleted = 0;
  #receiveErrors = 0;

  constructor(client: ConsumerClient, queue: string, options: ConsumerOptions = {}) {
    this.#client = client;
    this.#queue = queue;
    this.#concurrency = checkInteger("concurrency", options.concurrency ?? 1, 1, 65_536, {
      instead: "give at most 65536 handlers at once",
    });
    this.#batchSize = checkInteger(
      "batchSize",
      options.batchSize ?? Math.min(this.#concurrency, batchEntriesMax),
      1,
      batchEntriesMax,
      { instead: `the API gives ${batchEntriesMax} messages a receive at most` },
    );
    this.#receivesInFlight = checkInteger(
      "receivesInFlight",
      options.receivesInFlight ?? Math.min(4, Math.ceil(this.#concurrency / this.#batchSize)),
      1,
      64,
      { instead: "give at most 64 receives at once" },
    );
    this.#lockSeconds = checkInteger(
      "visibilityTimeoutSeconds",
      options.visibilityTimeoutSeconds ?? 30,
      1,
      visibilitySecondsMax,
      {
        instead: `the broker locks for ${visibilitySecondsMax} s at most, and the consumer ` +
          "renews a running handler's lock anyway: a lock of any length holds while it runs",
      },
    );
    this.#waitSeconds = checkInteger("waitSeconds", options.waitSeconds ?? 20, 0, 30, {
      instead: "the broker long-polls 30 s at most, and the consumer receives again at once",
    });
    const deleteLingerMs = checkMs("deleteLingerMs", options.deleteLingerMs ?? 20, 0, 60_000, {
      instead: "a delete no receive carries must still leave before its lock runs out; give " +
        "at most 60000",
    });
    checkFunction("handleMessage", options.handleMessage);
    checkFunction("retryDelaySeconds", options.retryDelaySeconds);
    checkFunction("onError", options.onError);
    this.#retryDelaySeconds = options.retryDelaySeconds ?? exponentialRetryDelaySeconds;
    this.#onError = options.onError ?? ((error, message) => {
      console.error(
        `cmqd consumer of '${queue}'${message ? ` (message ${message.id})` : ""}:`,
        error,
      );
    });
    this.#handleMessage = options.handleMessage;
    this.#receiveBackoff = new Backoff(checkBackoff("receiveBackoff", {
      backoffMsMin: options.receiveBackoff?.backoffMsMin ?? 100,
      backoffMsMax: options.receiveBackoff?.backoffMsMax ?? 5_000,
    }, "> 0"));
    this.#acks = new Acknowledger({
      client,
      queue,
      deleteLingerMs,
      report: (error, message) => this.#report(error, message),
      onDeleted: (count) => (this.#deleted += count),
    });
  }

  /** The queue consumed. */
  get queue(): string {
    return this.#queue;
  }

  /** True from `start()` (or the first iteration) until `stop()` was called. */
  get running(): boolean {
    return this.#loop !== undefined && this.#stopping === undefined;
  }

  /** Counters and gauges. */
  get stats(): ConsumerStats {
    return {
      ...this.#stats,
      deleted: this.#deleted,
      receiveErrors: this.#receiveErrors,
      inflight: this.#running.size,
    };
  }

  /** Starts the receive loop with `handleMessage`. */
  start(): void {
    const handler = this.#handleMessage;
    if (handler === undefined) throw new TypeError("start() needs the handleMessage option");
    this.#begin(handler);
  }

  /**
   * Stops receiving, waits for running handlers (aborting their signal with `abort: true`),
   * then flushes deletes and lock changes. Idempotent; a stopped consumer does not restart.
   * In the iterator form the message the loop holds is a running handler until the loop asks for
   * the next one: so inside the loop body leave with `break` (after `complete()` if the message
   * was handled) — leaving the loop stops the consumer — or call `stop()` without awaiting it;
   * `await consumer.stop()` there waits for the loop itself, for ever.
   */
  stop(options: { abort?: boolean } = {}): Promise<void> {
    if (options.abort) {
      const reason = new CmqdError("ConsumerStopped", "the consumer was stopped", { status: 0 });
      for (const run of this.#running) {
        run.abortReason = reason;
        run.controller?.abort(reason);
      }
    }
    this.#stopping ??= this.#shutDown();
    return this.#stopping;
  }

  /**
   * The messages as an async iterator of `Delivery`s; see `Delivery` for when they are deleted.
   * Leaving the loop stops the consumer.
   */
  messages(): AsyncIterableIterator<Delivery> {
    if (this.#iterator === undefined) {
      const iterator = new DeliveryIterator(() => this.stop());
      this.#begin((message, context) => iterator.deliver(message, context.signal));
      this.#iterator = iterator;
    }
    return this.#iterator;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Delivery> {
    return this.messages();
  }

  #begin(handler: MessageHandler): void {
    if (this.#loop !== undefined) throw new TypeError("the consumer was started already");
    if (this.#stopping !== undefined) throw new TypeError("a stopped consumer does not restart");
    const lanes = Array.from({ length: this.#receivesInFlight }, () => this.#receiveLoop(handler));
    this.#loop = Promise.all(lanes).then(() => {});
  }

  async #shutDown(): Promise<void> {
    this.#stopController.abort();
    this.#iterator?.end();
    this.#wakeLoop();
    await this.#loop;
    await Promise.all([...this.#running].map((run) => run.done));
    await this.#acks.flush();
  }

  /** One of the `receivesInFlight` loops. */
  async #receiveLoop(handler: MessageHandler): Promise<void> {
    while (this.#stopping === undefined) {
      const free = this.#concurrency - this.#running.size - this.#claimed;
      if (free <= 0) {
        await new Promise<void>((resolve) => this.#slotWaiters.push(resolve));
        continue;
      }
      const want = Math.min(free, this.#batchSize);
      this.#claimed += want;
      let received: { messages: ReceivedMessage[]; sentAtMs: number };
      try {
        received = await this.#receive(want);
      } finally {
        this.#claimed -= want;
      }
      const renewal: FirstRenewal = {
        atMs: received.sentAtMs + this.#lockSeconds * 500,
        runs: new Set(),
        timer: undefined,
      };
      for (const message of received.messages) {
        this.#stats.received++;
        // Received as the stop began: back to the queue at once, unhandled.
        if (this.#stopping !== undefined) {
          this.#release(message, received.sentAtMs + this.#lockSeconds * 1000);
        } else this.#startHandler(handler, message, received.sentAtMs, renewal);
      }
      // Slots this receive claimed and got nothing for are free again for the others.
      if (received.messages.length < want) this.#wakeLoop();
    }
  }

  /** Slots were freed (or the consumer stops): every loop waiting for one looks again. */
  #wakeLoop(): void {
    if (this.#slotWaiters.length === 0) return;
    const waiters = this.#slotWaiters;
    this.#slotWaiters = [];
    for (const waiter of waiters) waiter();
  }

  /**
   * One receive carrying pending deletes; on failure reports, backs off and returns none.
   * Carrying deletes it does not long-poll: the broker applies them first either way, but their
   * answer (and `stats.deleted`) would wait for the poll to end on a drained queue. An empty
   * answer to such a receive is followed at once by one that long-polls.
   */
  async #receive(maxMessages: number): Promise<{ messages: ReceivedMessage[]; sentAtMs: number }> {
    const taken = this.#acks.takeDeletes();
    const carrying = taken.handles.length > 0;
    const sentAtMs = Date.now();
    const signal = this.#stopController.signal;
    try {
      const answer = await this.#client.receiveMessages(this.#queue, {
        maxMessages,
        visibilityTimeoutSeconds: this.#lockSeconds,
        waitSeconds: carrying ? 0 : this.#waitSeconds,
        deleteReceiptHandles: carrying ? taken.handles : undefined,
      }, { signal });
      checkReceiveAnswer(answer);
      this.#acks.settleDeletes(taken, answer);
      this.#receiveBackoff.reset();
      const waitedMs = Date.now() - sentAtMs;
      // A long poll empty before its wait was half up (or no wait at all): don't ask again
      // right away.
      if (
        answer.messages.length === 0 && !carrying &&
        (this.#waitSeconds === 0 || waitedMs < this.#waitSeconds * 500)
      ) {
        await sleep(this.#idleBackoff.next(), signal);
      } else {
        this.#idleBackoff.reset();
      }
      return { messages: answer.messages, sentAtMs };
    } catch (error) {
      // A handle it carried refused alone: reported, and the next receive goes without it.
      if (this.#acks.restoreDeletes(taken, error)) return { messages: [], sentAtMs };
      if (!(signal.aborted && error instanceof CmqdError && error.code === "Aborted")) {
        this.#receiveErrors++;
        this.#report(error);
        await sleep(this.#receiveBackoff.next(), signal);
      }
      return { messages: [], sentAtMs };
    }
  }

  /**
   * One timer renews, at half the lock, every message of a receive still being handled; later
   * renewals are per message. A timer per message cost about 3 µs of CPU each.
   */
  #awaitFirstRenewal(renewal: FirstRenewal, run: Running): void {
    run.firstRenewal = renewal;
    renewal.runs.add(run);
    renewal.timer ??= setTimeout(() => {
      renewal.timer = undefined;
      for (const each of renewal.runs) {
        each.firstRenewal = undefined;
        this.#renew(each);
      }
      renewal.runs.clear();
    }, Math.max(0, renewal.atMs - Date.now()));
  }

  /**
   * Calls the handler. One that returns without a promise is finished on the spot: no timer,
   * no microtask, and its slot is free before the loop looks again, so the next receive (with
   * this delete on it) leaves without waiting for a wake-up.
   */
  #startHandler(
    handler: MessageHandler,
    message: ReceivedMessage,
    lockStartMs: number,
    renewal: FirstRenewal,
  ): void {
    const run: Running = {
      message,
      controller: undefined,
      abortReason: undefined,
      lock: new LockTimes(lockStartMs + this.#lockSeconds * 1000),
      lockLost: undefined,
      renewTimer: undefined,
      firstRenewal: undefined,
      finished: false,
      done: Promise.resolve(),
    };
    this.#running.add(run);
    let result: Promise<void> | void;
    try {
      result = handler(message, new RunContext(run));
    } catch (error) {
      void this.#finish(run, { error });
      return;
    }
    if (isThenable(result)) {
      this.#awaitFirstRenewal(renewal, run);
      run.done = this.#awaitHandler(run, result);
    } else {
      void this.#finish(run, undefined);
    }
  }

  async #awaitHandler(run: Running, pending: PromiseLike<unknown>): Promise<void> {
    let failure: { error: unknown } | undefined;
    try {
      await pending;
    } catch (error) {
      failure = { error };
    }
    await this.#finish(run, failure);
  }

  /** A handler is over: delete its message, or release it, or re-lock it for its retry. */
  #finish(run: Running, failure: { error: unknown } | undefined): Promise<void> | undefined {
    const { message } = run;
    run.finished = true;
    if (run.renewTimer !== undefined) clearTimeout(run.renewTimer);
    const renewal = run.firstRenewal;
    if (renewal !== undefined && renewal.runs.delete(run) && renewal.runs.size === 0) {
      clearTimeout(renewal.timer);
      renewal.timer = undefined;
    }
    this.#running.delete(run);
    if (failure === undefined) {
      this.#stats.handled++;
      this.#acks.delete(message); // Before the loop wakes, so its receive carries the delete.
      this.#wakeLoop();
      return;
    }
    this.#wakeLoop();
    // A lock the broker refused is gone for that handle: nothing to release or shorten.
    const locked = run.lockLost === undefined;
    if (failure.error === unprocessed || run.abortReason !== undefined) {
      if (run.abortReason !== undefined) this.#stats.interrupted++;
      if (locked) this.#release(message, run.lock.soonestMs());
      return;
    }
    this.#stats.failed++;
    // Leaving a for-await loop is the caller's own doing, already visible to it: not reported.
    if (failure.error !== leftLoop) this.#report(failure.error, message);
    if (locked) return this.#retryLater(message, run.lock.soonestMs());
  }

  /** Re-locks a failed message for its retry delay; its group stays blocked behind it. */
  async #retryLater(message: ReceivedMessage, lockDeadlineMs: number): Promise<void> {
    let seconds = Number.NaN;
    try {
      seconds = this.#retryDelaySeconds(message.receiveCount);
    } catch (error) {
      this.#report(error, message);
    }
    if (!Number.isFinite(seconds)) seconds = exponentialRetryDelaySeconds(message.receiveCount);
    seconds = Math.min(visibilitySecondsMax, Math.max(0, Math.round(seconds)));
    const outcome = await this.#acks.changeVisibility(message, seconds, lockDeadlineMs);
    if (!outcome.ok) this.#report(outcome.error, message);
  }

  /**
   * Gives a message back to the queue now, unhandled. In an outage at stop every held message's
   * release fails: only the first of an outage is reported, the others are counted
   * (`stats.releasesUnanswered`) until the broker answers a release again. A refusal (the lock
   * had run out) is always reported.
   */
  #release(message: ReceivedMessage, lockDeadlineMs: number): void {
    this.#acks.changeVisibility(message, 0, lockDeadlineMs).then((outcome) => {
      if (outcome.ok || outcome.lockLost) this.#releaseOutage = false;
      if (outcome.ok) return;
      if (outcome.lockLost) return this.#report(outcome.error, message);
      this.#stats.releasesUnanswered++;
      if (!this.#releaseOutage) this.#report(outcome.error, message);
      this.#releaseOutage = true;
    });
  }

  #scheduleRenewal(run: Running, atMs: number): void {
    run.renewTimer = setTimeout(() => this.#renew(run), Math.max(0, atMs - Date.now()));
  }

  /**
   * Extends a running handler's lock; schedules the next renewal at half the new lock. Renewals
   * go on while the handler runs, until the broker refuses one (see `consumer_lock.ts`).
   */
  async #renew(run: Running): Promise<void> {
    if (run.finished) return;
    const sentAtMs = Date.now();
    const lockMs = this.#lockSeconds * 1000;
    const outcome = await this.#acks.changeVisibility(
      run.message,
      this.#lockSeconds,
      run.lock.soonestMs(sentAtMs),
      true,
    );
    if (run.finished) return;
    // The broker answered (applied or refused): an outage of renewals, if any, is over.
    if (outcome.ok || outcome.lockLost) this.#renewalOutage = false;
    if (outcome.ok) {
      this.#stats.renewed++;
      run.lock.confirmed(sentAtMs + lockMs);
      this.#scheduleRenewal(run, sentAtMs + lockMs / 2);
      return;
    }
    if (outcome.lockLost) {
      this.#report(outcome.error, run.message);
      // The broker says the lock ran out: the handler is told through its signal.
      this.#stats.locksLost++;
      run.lockLost = outcome.error;
      run.controller?.abort(outcome.error);
      return;
    }
    // Unconfirmed (network, 503, no answer): it may have been applied, so the lock may hold even
    // past its confirmed deadline; try again, paced by the soonest deadline it may have, and no
    // sooner than an eighth of the lock (`renewRetryMsMin`). One given up got no answer for half
    // of that time (the client may go to another node now): at once.
    // Only the first of an outage is reported: each renewal of each held message fails in one.
    this.#stats.renewalsUnanswered++;
    if (!this.#renewalOutage) this.#report(outcome.error, run.message);
    this.#renewalOutage = true;
    run.lock.unconfirmed(sentAtMs + lockMs);
    const now = Date.now();
    const spacingMs = Math.min(renewRetryMsMax, Math.max(renewRetryMsMin, lockMs / 8));
    const retryMs = Math.max(spacingMs, (run.lock.soonestMs(now) - now) / 2);
    this.#scheduleRenewal(run, now + (outcome.givenUp ? 0 : retryMs));
  }

  #report(error: unknown, message?: ReceivedMessage): void {
    try {
      this.#onError(error, message);
    } catch (thrown) {
      // The error callback itself failed: still not silent.
      console.error("cmqd consumer: onError threw", thrown, "while reporting", error);
    }
  }
}
