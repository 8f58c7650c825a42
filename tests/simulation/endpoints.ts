/**
 * Simulated HTTP endpoints for the push workers: every node's worker reaches them through
 * `fetch`. Per URL, a request fails (500), hangs until the worker's timeout aborts it, or is
 * answered after a delay, as the URL's knobs and the seeded PRNG say. Everything an endpoint
 * answers with a 2xx is recorded: that is what "reached the endpoint" means to the checkers.
 *
 * @module
 */
import { type Prng, randomInt } from "../../raft/mod.ts";
import type { Scheduler } from "./scheduler.ts";

/** How one endpoint behaves. */
export interface EndpointKnobs {
  /** Chance that a request is answered 500. */
  failRate: number;
  /** Chance that a request is never answered (the worker's timeout ends it). */
  hangRate: number;
  /** Answers come after 0..delayMsMax ms. */
  delayMsMax: number;
}

/** A request an endpoint saw. */
export interface EndpointRequest {
  url: string;
  /** The message body: `msgBody` of a JSON push, or the raw body. */
  body: string;
  messageId: string;
  status: number | "hung";
}

/**
 * The endpoints of one run.
 *
 * @example
 * ```ts
 * const endpoints = new SimEndpoints(scheduler, prng);
 * endpoints.set("http://a.sim/", { failRate: 0.3, hangRate: 0.05, delayMsMax: 200 });
 * const worker = new PushWorker({ fetch: endpoints.fetch, ... });
 * ```
 */
export class SimEndpoints {
  readonly #scheduler: Scheduler;
  readonly #prng: Prng;
  readonly #knobs = new Map<string, EndpointKnobs>();
  /** URLs whose subscription pushes `simplified` (the raw body); the others get JSON. */
  readonly #simplified = new Set<string>();
  /** Every request seen, in order. */
  readonly requests: EndpointRequest[] = [];
  /** URL → body → number of 2xx answers. */
  readonly acknowledged = new Map<string, Map<string, number>>();

  constructor(scheduler: Scheduler, prng: Prng) {
    this.#scheduler = scheduler;
    this.#prng = prng;
  }

  /**
   * The URL's knobs, and the format its subscription pushes: both formats are `text/plain`, so,
   * like a real callback, an endpoint knows which one it gets.
   */
  set(url: string, knobs: EndpointKnobs, format: "json" | "simplified" = "json"): void {
    this.#knobs.set(url, knobs);
    if (format === "simplified") this.#simplified.add(url);
    else this.#simplified.delete(url);
  }

  /** Every endpoint answers at once with a 2xx from now on (the healing phase). */
  heal(): void {
    for (const url of this.#knobs.keys()) {
      this.#knobs.set(url, { failRate: 0, hangRate: 0, delayMsMax: 50 });
    }
  }

  /** The `fetch` the push workers use. */
  readonly fetch = (
    url: string,
    init: { body: string; headers: Record<string, string>; signal: AbortSignal },
  ): Promise<{ status: number; body: null }> => {
    const knobs = this.#knobs.get(url) ?? { failRate: 1, hangRate: 0, delayMsMax: 0 };
    const request: EndpointRequest = {
      url,
      body: this.#simplified.has(url) ? init.body : JSON.parse(init.body).msgBody,
      messageId: init.headers["x-cmq-message-id"],
      status: "hung",
    };
    this.requests.push(request);
    const roll = this.#prng.next();
    const delayMs = knobs.delayMsMax === 0 ? 0 : randomInt(this.#prng, knobs.delayMsMax + 1);
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(new Error("aborted"));
      init.signal.addEventListener("abort", onAbort, { once: true });
      if (roll < knobs.hangRate) return;
      this.#scheduler.schedule(delayMs, () => {
        if (init.signal.aborted) return;
        init.signal.removeEventListener("abort", onAbort);
        const status = roll < knobs.hangRate + knobs.failRate ? 500 : 200;
        request.status = status;
        if (status === 200) {
          const bodies = this.acknowledged.get(url) ?? new Map<string, number>();
          bodies.set(request.body, (bodies.get(request.body) ?? 0) + 1);
          this.acknowledged.set(url, bodies);
        }
        resolve({ status, body: null });
      });
    });
  };
}
