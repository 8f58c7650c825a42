/**
 * What a consumer keeps of one running handler: its message, its lock, its renewal timers and
 * the context its handler is given. Internal to `consumer.ts`.
 *
 * @module
 */
import type { HandlerContext } from "./consumer_options.ts";
import type { LockTimes } from "./consumer_lock.ts";
import type { ReceivedMessage } from "./protocol.ts";

/** One running handler. */
export interface Running {
  message: ReceivedMessage;
  /** Made when the handler first reads its `signal` (most handlers never do). */
  controller: AbortController | undefined;
  /** Set by `stop({ abort: true })` while the handler ran. */
  abortReason: unknown;
  /** The deadlines the current lock may have. */
  lock: LockTimes;
  /** The broker's refusal of a renewal: the lock is gone (and the signal aborted with it). */
  lockLost: unknown;
  renewTimer: ReturnType<typeof setTimeout> | undefined;
  /** The first renewal, shared by the messages of one receive (one timer, not one each). */
  firstRenewal: FirstRenewal | undefined;
  finished: boolean;
  done: Promise<void>;
}

/**
 * Runs of one receive whose first renewal is still ahead, and its timer, armed when the first
 * handler of the receive turns out to be asynchronous (a synchronous one is over at once).
 */
export interface FirstRenewal {
  atMs: number;
  runs: Set<Running>;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** A handler's context; the controller behind `signal` is made on first use. */
export class RunContext implements HandlerContext {
  readonly #run: Running;

  constructor(run: Running) {
    this.#run = run;
  }

  get signal(): AbortSignal {
    const run = this.#run;
    if (run.controller === undefined) {
      run.controller = new AbortController();
      const reason = run.abortReason ?? run.lockLost;
      if (reason !== undefined) run.controller.abort(reason);
    }
    return run.controller.signal;
  }
}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === "function";
}
