/**
 * Test helpers for `BodyBudget`: a manual sweep timer, bodies that arrive when told (or never),
 * and a wait for the budget to see the reads begin.
 *
 * @module
 */
import { BodyBudget, type BodyBudgetOptions } from "../service/mod.ts";

/** Timers fired by hand: `tick()` runs the callbacks set so far (the sweep sets one at a time). */
export class ManualTimers {
  #pending: (() => void)[] = [];

  setTimer(_delayMs: number, callback: () => void): unknown {
    this.#pending.push(callback);
    return callback;
  }

  /** Runs the pending callbacks, `times` rounds (one sweep per round). */
  tick(times = 1): void {
    for (let round = 0; round < times; round++) {
      const due = this.#pending;
      this.#pending = [];
      for (const callback of due) callback();
    }
  }
}

/** A budget on manual timers, stalled after 2 ticks (1 s each, 1 s of stall) without progress. */
export function manualBudget(
  options: Omit<BodyBudgetOptions, "timers"> = {},
): { bodies: BodyBudget; timers: ManualTimers } {
  const timers = new ManualTimers();
  const bodies = new BodyBudget({ stallMs: 1000, tickMs: 1000, ...options, timers });
  return { bodies, timers };
}

/** A body stream fed by hand: `send` enqueues bytes, `end` closes it, `cancelled` tells. */
export function trickle(): {
  stream: ReadableStream<Uint8Array>;
  send(bytes: number): void;
  end(): void;
  fail(): void;
  readonly cancelled: boolean;
} {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let cancelled = false;
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    cancel() {
      cancelled = true;
    },
  });
  return {
    stream,
    send: (bytes) => controller.enqueue(new Uint8Array(bytes).fill(120)),
    end: () => controller.close(),
    fail: () => controller.error(new Error("connection reset")),
    get cancelled() {
      return cancelled;
    },
  };
}

/** A POST whose body comes from `stream`, declaring `declared` bytes when given. */
export function streamedRequest(
  url: string,
  stream: ReadableStream<Uint8Array>,
  headers: Record<string, string> = {},
  declared?: number,
): Request {
  const all = {
    ...headers,
    ...(declared === undefined ? {} : { "content-length": `${declared}` }),
  };
  return new Request(url, { method: "POST", headers: all, body: stream });
}

/** Waits (generously, without an upper bound on how long it takes) until `done()` holds. */
export async function until(done: () => boolean, what = "condition"): Promise<void> {
  for (let attempt = 0; !done(); attempt++) {
    if (attempt > 2000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
