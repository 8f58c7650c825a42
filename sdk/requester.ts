/**
 * The request plumbing of `CmqdClient`: one logical call becomes attempts against the listed
 * nodes or the leader they point to, each signed, timed out and parsed, with the bounded retries
 * the client's module doc describes. Kept apart so the client reads as its list of endpoints.
 *
 * @module
 */
import { CmqdError, errorFromAnswer } from "./errors.ts";
import { Deadlines } from "./deadlines.ts";
import { signRequest } from "./signing.ts";
import { backoffMs, retryDefaults, type RetryOptions, sleep } from "./retry.ts";
import {
  defaultTransport,
  FetchTransport,
  type HttpResponse,
  type HttpTransport,
  isConnectFailure,
} from "./transport.ts";

/** Options of a `CmqdClient`. */
export interface CmqdClientOptions {
  /** Any node of the cluster, e.g. `http://127.0.0.1:8080`, or several (tried in turn). */
  baseUrl: string | string[];
  /** How requests travel; default `defaultTransport()` (Http1Transport in Deno, node:http in Node). */
  transport?: HttpTransport;
  /** Shorthand for `transport: new FetchTransport(fetch)`. */
  fetch?: typeof fetch;
  /** Sent with every request (tracing, a proxy's own authentication). */
  headers?: Record<string, string>;
  /**
   * An access key of the broker's credentials file: every request (every retry too) is signed
   * with `CMQD1-HMAC-SHA256` (see `signRequest`); the secret key itself is never sent.
   */
  credentials?: Credentials;
  /** Per attempt; a receive adds its long-poll wait on top. Default 30 s. */
  timeoutMs?: number;
  /** Bounds of the automatic retries (a `Retry-After` may ask for longer than `backoffMsMax`). */
  retry?: Partial<RetryOptions>;
  /** Follow the `x-cmqd-leader` hint. Default true. */
  followLeader?: boolean;
  /** How to wait between attempts (tests pass a recorder). Default a timer. */
  sleep?: (ms: number) => Promise<void>;
}

/** An access key: its id and its secret. */
export interface Credentials {
  /** The key's id, as the broker's credentials file names it. */
  secretId: string;
  /** The key's secret; used to sign, never sent. */
  secretKey: string;
}

/** Options of a single call. */
export interface CallOptions {
  /** Aborts the call (and its retries). */
  signal?: AbortSignal;
  /** Per attempt, instead of the client's `timeoutMs` (a receive adds its wait on top). */
  timeoutMs?: number;
}

const timeoutMsDefault = 30_000;
/** A `Retry-After` longer than this is cut: a client should not hang for minutes. */
const retryAfterMsMax = 30_000;
/** The longest long-poll wait of the API contract (`pollingWaitSeconds` max), used when none is given. */

export /** The methods of the v1 API. */
type Method = "GET" | "PUT" | "PATCH" | "POST" | "DELETE";

/** One logical call. */
export interface RequestSpec {
  method: Method;
  path: string;
  body?: unknown;
  /** Safe to send again after a network error or timeout. */
  repeatable: boolean;
  /** `none` for 204s, `text` for /metrics. */
  response?: "json" | "text" | "none";
  /** Per attempt; default the client's. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** False for `/readyz`, whose 503 is an answer, not a failure to retry. */
  retryUnavailable?: boolean;
}

/** A 2xx answer: its status and parsed body. */
export interface Answer {
  status: number;
  body: unknown;
}

/** Errors of requests that never reached a server: safe to send elsewhere, whatever they do. */
const neverSent = new WeakSet<CmqdError>();

/** Sends the requests of one client (see the module doc). */
export class Requester {
  readonly #baseUrls: string[];
  readonly #transport: HttpTransport;
  readonly #headers: Record<string, string>;
  readonly #timeoutMs: number;
  readonly #retry: RetryOptions;
  readonly #followLeader: boolean;
  readonly #sleep: (ms: number) => Promise<void>;
  /** The timeouts of the attempts in flight, on one timer. */
  readonly #deadlines = new Deadlines();
  /** The last leader hint and the URL it names (each answer repeats it: parsed once). */
  #lastHint: { text: string; url: string | undefined } | undefined;
  /** Which of `#baseUrls` calls go to while no leader is known. */
  #nodeIndex = 0;
  readonly #credentials: Credentials | undefined;
  #leaderUrl: string | undefined;
  /** Checks the options (a bad `baseUrl`, retry bound or credentials throws at once). */
  constructor(options: CmqdClientOptions) {
    const baseUrls = typeof options.baseUrl === "string" ? [options.baseUrl] : options.baseUrl;
    if (baseUrls.length === 0) throw new RangeError("baseUrl must name at least one node");
    this.#baseUrls = baseUrls.map(normalizeBaseUrl);
    this.#transport = options.transport ??
      (options.fetch === undefined ? defaultTransport() : new FetchTransport(options.fetch));
    this.#headers = { ...options.headers };
    this.#timeoutMs = options.timeoutMs ?? timeoutMsDefault;
    this.#retry = { ...retryDefaults, ...options.retry };
    if (!(this.#retry.attemptsMax >= 1)) throw new RangeError("retry.attemptsMax must be ≥ 1");
    this.#followLeader = options.followLeader ?? true;
    this.#sleep = options.sleep ?? ((ms) => sleep(ms));
    this.#credentials = checkCredentials(options.credentials);
  }

  /** The leader base URL the client currently sends to, if it learned one. */
  get leaderUrl(): string | undefined {
    return this.#leaderUrl;
  }

  /** The node calls go to when no leader is known. */
  get nodeUrl(): string {
    return this.#baseUrls[this.#nodeIndex];
  }

  /** Drops pooled connections (the Node transport's keep-alive sockets). */
  close(): void {
    this.#transport.close?.();
  }

  /** The per-attempt timeout calls get unless they set their own. */
  get timeoutMs(): number {
    return this.#timeoutMs;
  }

  /** `request`, answering the parsed body. */
  async json<T>(spec: RequestSpec): Promise<T> {
    return (await this.request(spec)).body as T;
  }

  /** One logical call: attempts, back-off, leader hint, moving on through the node list. */
  async request(spec: RequestSpec): Promise<Answer> {
    for (let attempt = 1;; attempt++) {
      const leaderUrl = this.#leaderUrl;
      let error: CmqdError;
      try {
        return await this.#attempt(leaderUrl ?? this.nodeUrl, spec);
      } catch (caught) {
        if (!(caught instanceof CmqdError)) throw caught;
        error = caught;
      }
      if (error.code === "Aborted") throw error;
      // No answer: the leader we were sent to is gone (ask the listed nodes again), or the
      // listed node is down (the next one may serve).
      const moved = error.status === 0 && this.#moveOn(leaderUrl);
      const delayMs = this.#retryDelayMs(spec, error, attempt, moved);
      if (delayMs === undefined) throw error;
      await this.#sleep(delayMs);
      if (spec.signal?.aborted) throw aborted(spec.signal);
    }
  }

  /** After a call got no answer from `failedLeaderUrl` or the current node: true if moved. */
  #moveOn(failedLeaderUrl: string | undefined): boolean {
    if (failedLeaderUrl !== undefined) {
      if (this.#leaderUrl === failedLeaderUrl) this.#leaderUrl = undefined;
      return true;
    }
    if (this.#baseUrls.length === 1) return false;
    this.#nodeIndex = (this.#nodeIndex + 1) % this.#baseUrls.length;
    return true;
  }

  /** Milliseconds to wait before another attempt, or undefined to give up with `error`. */
  #retryDelayMs(
    spec: RequestSpec,
    error: CmqdError,
    attempt: number,
    moved: boolean,
  ): number | undefined {
    if (attempt >= this.#retry.attemptsMax) return undefined;
    const unavailable = error.status === 503 &&
      (error.code === "NoLeader" || error.code === "NotReady") &&
      spec.retryUnavailable !== false;
    const unsent = neverSent.has(error);
    const lost = (error.code === "NetworkError" || error.code === "Timeout") && spec.repeatable;
    if (!unavailable && !unsent && !lost) return undefined;
    // A node that refused the connection says nothing about the next one: try it at once.
    if (unsent && moved) return 0;
    if (error.retryAfterSeconds !== undefined) {
      return Math.min(error.retryAfterSeconds * 1000, retryAfterMsMax);
    }
    return backoffMs(attempt, this.#retry);
  }

  async #attempt(baseUrl: string, spec: RequestSpec): Promise<Answer> {
    const body = spec.body === undefined ? undefined : JSON.stringify(spec.body);
    const authorization = await this.#authorization(baseUrl + spec.path, spec.method, body);
    const controller = new AbortController();
    const timeoutMs = spec.timeoutMs ?? this.#timeoutMs;
    let timedOut = false;
    const deadline = this.#deadlines.add(timeoutMs, () => {
      timedOut = true;
      controller.abort();
    });
    const onAbort = () => controller.abort();
    spec.signal?.addEventListener("abort", onAbort, { once: true });
    const noAnswer = (cause: unknown): CmqdError => {
      if (spec.signal?.aborted) return aborted(spec.signal);
      if (timedOut) return timeout(timeoutMs, cause);
      const error = new CmqdError(
        "NetworkError",
        `${spec.method} ${baseUrl}${spec.path}: ${cause}`,
        {
          status: 0,
          cause,
        },
      );
      if (isConnectFailure(cause)) neverSent.add(error);
      return error;
    };
    try {
      if (spec.signal?.aborted) throw aborted(spec.signal);
      const headers: Record<string, string> = { ...this.#headers };
      if (spec.body !== undefined) headers["content-type"] = "application/json";
      if (authorization !== undefined) headers.authorization = authorization;
      let response: HttpResponse;
      try {
        response = await this.#transport.request({
          url: baseUrl + spec.path,
          method: spec.method,
          headers,
          body,
          signal: controller.signal,
        });
      } catch (cause) {
        throw noAnswer(cause);
      }
      this.#noteLeader(response);
      let text: string;
      try {
        text = await response.text();
      } catch (cause) {
        throw noAnswer(cause);
      }
      if (response.status < 200 || response.status > 299) {
        throw errorFromAnswer(response.status, response.header, text);
      }
      return { status: response.status, body: parseBody(response.status, text, spec.response) };
    } finally {
      deadline.cancel();
      spec.signal?.removeEventListener("abort", onAbort);
    }
  }

  /** The signed `Authorization` of one attempt (fresh nonce and time), or none. */
  async #authorization(url: string, method: string, body?: string): Promise<string | undefined> {
    if (this.#credentials === undefined) return undefined;
    const { pathname, search } = new URL(url);
    return await signRequest({ method, path: pathname, query: search, body, ...this.#credentials });
  }

  #noteLeader(response: HttpResponse): void {
    if (!this.#followLeader) return;
    const hint = response.header("x-cmqd-leader");
    if (hint === null) return;
    if (hint !== this.#lastHint?.text) this.#lastHint = { text: hint, url: leaderUrlOf(hint) };
    // A hint that is not an http(s) URL is ignored; the configured node keeps working.
    if (this.#lastHint.url !== undefined) this.#leaderUrl = this.#lastHint.url;
  }
}

/** The base URL a leader hint names, or undefined when it names none. */
function leaderUrlOf(hint: string): string | undefined {
  try {
    const url = new URL(hint);
    if (url.protocol === "http:" || url.protocol === "https:") return normalizeBaseUrl(url.href);
  } catch {
    // not a URL
  }
  return undefined;
}

/** The per-call fields of `options`, and nothing else (a caller can't override the spec). */
export function callOf(options: CallOptions): Pick<RequestSpec, "signal" | "timeoutMs"> {
  return { signal: options.signal, timeoutMs: options.timeoutMs };
}

/** Refuses unusable credentials when the client is built, not on its first call. */
function checkCredentials(credentials: Credentials | undefined): Credentials | undefined {
  if (credentials === undefined) return undefined;
  const { secretId, secretKey } = credentials;
  if (typeof secretId !== "string" || !/^[A-Za-z0-9._-]{1,128}$/.test(secretId)) {
    throw new TypeError("credentials.secretId must be 1–128 of A-Z a-z 0-9 . _ -");
  }
  if (typeof secretKey !== "string" || secretKey.length === 0) {
    throw new TypeError("credentials.secretKey must be a non-empty string");
  }
  return { secretId, secretKey };
}

function normalizeBaseUrl(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, "");
}

function parseBody(status: number, text: string, kind: RequestSpec["response"]): unknown {
  if (kind === "none" || status === 204) return undefined;
  if (kind === "text") return text;
  try {
    return JSON.parse(text);
  } catch {
    throw new CmqdError("UnexpectedResponse", `HTTP ${status}, not JSON: ${text.slice(0, 200)}`, {
      status,
    });
  }
}

function aborted(signal: AbortSignal): CmqdError {
  return new CmqdError("Aborted", "the call was aborted", { status: 0, cause: signal.reason });
}

function timeout(timeoutMs: number, cause: unknown): CmqdError {
  return new CmqdError("Timeout", `no answer within ${timeoutMs} ms`, { status: 0, cause });
}
