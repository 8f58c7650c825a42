/**
 * The timeouts of the push worker's requests in flight. Every request gets the same timeout, so
 * start order is deadline order: one timer, armed for the oldest deadline, aborts the late ones
 * (a timer per request cost more than the rest of the worker's bookkeeping). A request whose
 * answer's status arrived is `answered`: its timeout is off (the status decides the outcome; the
 * client bounds the rest of the answer), yet `abortAll` still ends it.
 *
 * @module
 */

/** Timers on the node's clock (the worker's). */
interface Timers {
  setTimer(delayMs: number, callback: () => void): unknown;
  clearTimer(handle: unknown): void;
}

/** Requests in flight and when each times out, oldest first. */
export class RequestDeadlines {
  readonly #timers: Timers;
  readonly #clock: { now(): number };
  readonly #timeoutMs: number;
  readonly #deadlines = new Map<AbortController, { deadline: number; onTimeout: () => void }>();
  /** Requests whose status arrived: no timeout, but aborted by `abortAll`. */
  readonly #answered = new Set<AbortController>();
  #timer: unknown = null;
  /** Bumped by `clear`: a timer of before does nothing. */
  #epoch = 0;

  constructor(timers: Timers, clock: { now(): number }, timeoutMs: number) {
    this.#timers = timers;
    this.#clock = clock;
    this.#timeoutMs = timeoutMs;
  }

  /** Starts the timeout of a request: `onTimeout` runs once the timeout has passed. */
  watch(controller: AbortController, onTimeout: () => void): void {
    this.#deadlines.set(controller, { deadline: this.#clock.now() + this.#timeoutMs, onTimeout });
    if (this.#timer === null) this.#arm();
  }

  /** The request's status arrived: its timeout is off, though `abortAll` still ends it. */
  answered(controller: AbortController): void {
    if (this.#deadlines.delete(controller)) this.#answered.add(controller);
  }

  /** The request ended: its timeout is off. */
  done(controller: AbortController): void {
    this.#deadlines.delete(controller);
    this.#answered.delete(controller);
  }

  /** Aborts every request watched and forgets them. */
  abortAll(): void {
    this.#epoch++;
    for (const controller of this.#deadlines.keys()) controller.abort();
    for (const controller of this.#answered) controller.abort();
    this.#deadlines.clear();
    this.#answered.clear();
    if (this.#timer !== null) this.#timers.clearTimer(this.#timer);
    this.#timer = null;
  }

  /** Arms the one timer for the oldest request watched (none when there is none). */
  #arm(): void {
    const oldest = this.#deadlines.values().next();
    if (oldest.done) return;
    const epoch = this.#epoch;
    // At least 1 ms: a clock that stepped back must not make this spin.
    const delayMs = Math.max(1, oldest.value.deadline - this.#clock.now());
    this.#timer = this.#timers.setTimer(delayMs, () => {
      if (epoch !== this.#epoch) return;
      this.#timer = null;
      const now = this.#clock.now();
      for (const [controller, watch] of this.#deadlines) {
        if (watch.deadline > now) break;
        this.#deadlines.delete(controller);
        watch.onTimeout();
      }
      this.#arm();
    });
  }
}
