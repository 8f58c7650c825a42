/**
 * The request plumbing of `CmqdClient`: one logical call becomes attempts against the listed
 * nodes or the leader they point to, each signed, timed out and parsed, with the bounded retries
 * the client's module doc describes. Kept apart so the client reads as its list of endpoints.
 *
 * @module
 */
import { CmqdError, errorFromAnswer } from "./errors.ts";
import { Deadlines } from "./deadlines.ts";
import { abandonOnAbort } from "./abandon.ts";
import { signRequest } from "./signing.ts";
import { Nodes } from "./nodes.ts";
import { backoffMs, type RetryOptions, sleep } from "./retry.ts";
import {
  defaultTransport,
  FetchTransport,
  type HttpResponse,
  type HttpTransport,
  isConnectFailure,
  isNetworkFailure,
} from "./transport.ts";
import {
  checkBaseUrl,
  checkBoolean,
  checkCredentials,
  checkFunction,
  checkHeaders,
  checkRetry,
  checkTimeoutMs,
  type Credentials,
  normalizeBaseUrl,
} from "./option_checks.ts";

import type { CallOptions, CmqdClientOptions } from "./requester_options.ts";

export type { Credentials } from "./option_checks.ts";
export type { CallOptions, CmqdClientOptions } from "./requester_options.ts";

const timeoutMsDefault = 30_000;
/**
 * The broker answers a request that does not long-poll after an fsync and a Raft commit
 * (milliseconds), one hop more through a follower. The longest legitimate silence is an
 * election: a follower holds forwards until a new leader is known (an election timeout is
 * 1–2 s, a split vote adds another), and a leader that lost its quorum steps down after about
 * 1 s. Five seconds covers that with room for a loaded machine.
 */
const headTimeoutMsDefault = 5_000;
/** How long the `/healthz` of a node that sent no head may take; it answers from memory. */
const probeTimeoutMsMax = 2_000;
/**
 * A `Retry-After` longer than this is cut: a client should not hang for minutes. (One shorter
 * than the back-off is raised to it.)
 */
const retryAfterMsMax = 30_000;

export /** The methods of the v1 API. */
type Method = "GET" | "PUT" | "PATCH" | "POST" | "DELETE";

/** One logical call. */
export interface RequestSpec {
  method: Method;
  path: string;
  body?: unknown;
  /** Safe to send again after a network error or timeout. */
  repeatable: boolean;
  /**
   * Safe to repeat only this long after the first attempt that may have been carried out (a
   * send repeatable by its dedup ids, which the broker holds for a window): no attempt starts
   * later; the call fails with the last attempt's error instead.
   */
  repeatableWithinMs?: number;
  /** `none` for 204s, `text` for /metrics. */
  response?: "json" | "text" | "none";
  /** Per attempt; default the client's. */
  timeoutMs?: number;
  /** Per attempt, until the response's head; default the client's. */
  headTimeoutMs?: number;
  /** A long poll's wait, included in `timeoutMs` and `headTimeoutMs`. */
  waitMs?: number;
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
/** Errors of attempts abandoned for a late head: the next node is tried at once. */
const silent = new WeakSet<CmqdError>();
/**
 * Errors of attempts whose silence marks the node as frozen: no answer within the client's own
 * bound (`headTimeoutMs`, or `timeoutMs` if shorter), or none from its `/healthz` either. Past
 * a call's own shorter bound only, the node may be slow: the call moves on, the node is only
 * struck (see `Nodes.strike`).
 */
const frozen = new WeakSet<CmqdError>();
/**
 * Errors of attempts timed out after the response's head arrived: the node answered, only its
 * body stalled (a slow or broken connection, a stuck proxy). No sign of a frozen node: neither
 * suspect nor struck; the call is retried like any other timeout (the outcome is unknown).
 */
const stalledBody = new WeakSet<CmqdError>();

/**
 * Whether a failed attempt may still have been carried out: no answer (unless the request never
 * reached a server), or an answer saying the outcome is unknown.
 */
function mayHaveTakenEffect(error: CmqdError): boolean {
  return (error.status === 0 && !neverSent.has(error)) || error.outcomeUnknown;
}

/** What an attempt does when its head is late (see `headTimeoutMs`). */
type HeadPolicy = "none" | "moveOn" | "probe";

/** The head deadline of one attempt. */
interface HeadWatch {
  /** Why the attempt was abandoned for a late head, if it was. */
  silence: string | undefined;
  /** Abandoned because `/healthz` gave no answer either. */
  probed: boolean;
  /** The head arrived: the deadline is off, the node answered. */
  arrived: () => void;
  /** The attempt is over. */
  end: () => void;
}

/** Sends the requests of one client (see the module doc). */
export class Requester {
  readonly #nodes: Nodes;
  readonly #transport: HttpTransport;
  readonly #headers: Record<string, string>;
  readonly #timeoutMs: number;
  readonly #headTimeoutMs: number;
  readonly #retry: RetryOptions;
  readonly #followLeader: boolean;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** The timeouts of the attempts in flight, on one timer. */
  readonly #deadlines = new Deadlines();
  /** The last leader hint and the URL it names (each answer repeats it: parsed once). */
  #lastHint: { text: string; url: string | undefined } | undefined;
  readonly #credentials: Credentials | undefined;
  /** Checks the options (a bad `baseUrl`, header, timeout, retry bound or credentials throws at once). */
  constructor(options: CmqdClientOptions) {
    const baseUrls = typeof options.baseUrl === "string" ? [options.baseUrl] : options.baseUrl;
    if (baseUrls.length === 0) throw new RangeError("baseUrl must name at least one node");
    this.#nodes = new Nodes(baseUrls.map(checkBaseUrl));
    this.#transport = options.transport ??
      (options.fetch === undefined ? defaultTransport() : new FetchTransport(options.fetch));
    this.#headers = checkHeaders(options.headers);
    this.#timeoutMs = checkTimeoutMs("timeoutMs", options.timeoutMs ?? timeoutMsDefault, "none");
    this.#headTimeoutMs = checkTimeoutMs(
      "headTimeoutMs",
      options.headTimeoutMs ?? headTimeoutMsDefault,
      "off",
    );
    this.#retry = checkRetry(options.retry);
    this.#followLeader = checkBoolean("followLeader", options.followLeader, true);
    checkFunction("sleep", options.sleep);
    this.#sleep = options.sleep ?? sleep;
    this.#credentials = checkCredentials(options.credentials);
  }

  /** The leader base URL the client currently sends to, if it learned one. */
  get leaderUrl(): string | undefined {
    return this.#nodes.leaderUrl;
  }

  /** The node calls go to when no leader is known. */
  get nodeUrl(): string {
    return this.#nodes.nodeUrl;
  }

  /** Drops pooled connections (the Node transport's keep-alive sockets). */
  close(): void {
    this.#transport.close?.();
  }

  /** The per-attempt timeout calls get unless they set their own. */
  get timeoutMs(): number {
    return this.#timeoutMs;
  }

  /** The head timeout calls get unless they set their own. */
  get headTimeoutMs(): number {
    return this.#headTimeoutMs;
  }

  /** `request`, answering the parsed body. */
  async json<T>(spec: RequestSpec): Promise<T> {
    return (await this.request(spec)).body as T;
  }

  /** One logical call: attempts, back-off, leader hint, moving on through the node list. */
  async request(spec: RequestSpec): Promise<Answer> {
    /**
     * Nodes this call left for another at once since it last waited: one round at most (made on
     * the first move: a call that never moves allocates nothing).
     */
    let leftAtOnce: Set<string> | undefined;
    // Time into the call: the monotonic clock, or the waits asked of a custom `sleep` (a test's
    // fake clock) when they add up to more.
    const startedAt = performance.now();
    let waitedMs = 0;
    const elapsedMs = () => Math.max(performance.now() - startedAt, waitedMs);
    /** When the first attempt that may have been carried out started (see `repeatableWithinMs`). */
    let maybeDoneAt: number | undefined;
    /** When the first attempt failed: retries start within `retry.budgetMs` of it. */
    let failedAt: number | undefined;
    for (let attempt = 1;; attempt++) {
      const target = this.#nodes.target();
      const attemptAt = elapsedMs();
      // Before any failure the budget has not started: a retry after this attempt fits it.
      const budgetLeftMs = failedAt === undefined
        ? Infinity
        : this.#retry.budgetMs - (attemptAt - failedAt);
      let error: CmqdError;
      try {
        const policy = this.#headPolicy(target, spec, attempt, budgetLeftMs);
        return await this.#attempt(target, spec, policy);
      } catch (caught) {
        if (!(caught instanceof CmqdError)) throw caught;
        error = caught;
      }
      if (error.code === "Aborted") throw error;
      failedAt ??= elapsedMs();
      // A node removed from the cluster refuses everything, before doing anything, for as long
      // as it runs: avoided like a silent one, and the call goes elsewhere if it can.
      const removed = error.code === "NodeRemoved";
      if (removed || frozen.has(error)) this.#nodes.suspect(target);
      else if (error.status === 0 && error.code === "Timeout" && !stalledBody.has(error)) {
        this.#nodes.strike(target);
      }
      // No answer: the leader we were sent to is gone (ask the listed nodes again), or the
      // listed node is down (the next one may serve).
      const moved = (error.status === 0 || removed) && this.#nodes.moveOn(target);
      // Back to a node already left at once: every node failed in a row, a round to back off.
      if (moved) (leftAtOnce ??= new Set()).add(target);
      const roundOver = moved && leftAtOnce!.has(this.#nodes.target());
      const delayMs = this.#retryDelayMs(spec, error, attempt, moved, roundOver);
      if (delayMs === undefined || elapsedMs() + delayMs - failedAt > this.#retry.budgetMs) {
        throw error;
      }
      if (maybeDoneAt === undefined && mayHaveTakenEffect(error)) maybeDoneAt = attemptAt;
      if (
        spec.repeatableWithinMs !== undefined && maybeDoneAt !== undefined &&
        elapsedMs() + delayMs - maybeDoneAt > spec.repeatableWithinMs
      ) {
        throw error;
      }
      if (delayMs > 0) leftAtOnce?.clear();
      // A back-off may be a Retry-After of up to 30 s: an abort ends it, not the timer.
      await untilAborted(this.#sleep(delayMs, spec.signal), spec.signal);
      waitedMs += delayMs;
      if (spec.signal?.aborted) throw aborted(spec.signal);
    }
  }

  /**
   * A late head matters only when another node could take the call: then a call safe to repeat
   * moves on (unless this is its last attempt: the count is reached, or a retry after the head
   * timeout would start past the budget), any other asks the node whether it is alive.
   */
  #headPolicy(
    target: string,
    spec: RequestSpec,
    attempt: number,
    budgetLeftMs: number,
  ): HeadPolicy {
    const headTimeoutMs = spec.headTimeoutMs ?? this.#headTimeoutMs;
    if (!(headTimeoutMs > 0 && headTimeoutMs < (spec.timeoutMs ?? this.#timeoutMs))) return "none";
    if (!this.#nodes.hasOther(target)) return "none";
    const last = attempt >= this.#retry.attemptsMax || headTimeoutMs > budgetLeftMs;
    return spec.repeatable && !last ? "moveOn" : "probe";
  }

  /** Milliseconds to wait before another attempt, or undefined to give up with `error`. */
  #retryDelayMs(
    spec: RequestSpec,
    error: CmqdError,
    attempt: number,
    moved: boolean,
    roundOver: boolean,
  ): number | undefined {
    if (attempt >= this.#retry.attemptsMax) return undefined;
    const unavailable = error.status === 503 &&
      (error.code === "NoLeader" || error.code === "NotReady") &&
      spec.retryUnavailable !== false && (spec.repeatable || !error.outcomeUnknown);
    const unsent = neverSent.has(error) || (error.code === "NodeRemoved" && moved);
    const lost = (error.code === "NetworkError" || error.code === "Timeout") && spec.repeatable;
    // The broker gave up reading a body that stalled: nothing of it was done.
    const stalled = error.status === 408 && error.code === "RequestTimeout";
    if (!unavailable && !unsent && !lost && !stalled) return undefined;
    // A node that refused the connection or froze says nothing about the next one: go at once,
    // unless every node did since the last wait (all down: at once, the call would spin).
    if ((unsent || silent.has(error)) && moved && !roundOver) return 0;
    // A `Retry-After` asks for at least that long, never for less than the back-off: one of 0
    // (or a date past) from a broker or a proxy would otherwise retry at once, a spin under
    // `attemptsMax: Infinity`.
    const backoff = backoffMs(attempt, this.#retry);
    if (error.retryAfterSeconds === undefined) return backoff;
    return Math.max(backoff, Math.min(error.retryAfterSeconds * 1000, retryAfterMsMax));
  }

  /** True when an attempt's `limitMs` (a long poll's wait aside) is no shorter than the client's own bound. */
  #beyondOwnBound(limitMs: number, spec: RequestSpec): boolean {
    return limitMs - (spec.waitMs ?? 0) >= Math.min(this.#headTimeoutMs, this.#timeoutMs);
  }

  /**
   * `work`, or its abandonment when `signal` aborts first (`abandon.ts`): only for a transport
   * that doesn't say it settles on abort, since the race costs a promise and a listener.
   */
  #untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
    return this.#transport.settlesOnAbort === true ? work : abandonOnAbort(work, signal);
  }

  async #attempt(baseUrl: string, spec: RequestSpec, policy: HeadPolicy): Promise<Answer> {
    const body = spec.body === undefined ? undefined : JSON.stringify(spec.body);
    const authorization = await this.#authorization(baseUrl + spec.path, spec.method, body);
    const controller = new AbortController();
    // The head's deadline first: it is the earlier one, so the shared timer is armed once.
    const head = this.#watchHead(baseUrl, spec, policy, controller);
    const timeoutMs = spec.timeoutMs ?? this.#timeoutMs;
    let timedOut = false;
    /** The response's head arrived (`onHead`, or `request` resolved). */
    let headArrived = false;
    const onHead = () => {
      headArrived = true;
      head.arrived();
    };
    const deadline = this.#deadlines.add(timeoutMs, () => {
      timedOut = true;
      controller.abort();
    });
    const onAbort = () => controller.abort();
    spec.signal?.addEventListener("abort", onAbort, { once: true });
    // What the transport's rejection is: the client's own abort or timeout (whatever the
    // transport made of it), a network failure (`isNetworkFailure`), or else an error of the
    // transport's own, passed on unchanged (never retried).
    const noAnswer = (cause: unknown): unknown => {
      if (spec.signal?.aborted) return aborted(spec.signal);
      if (timedOut) {
        if (headArrived) {
          const error = new CmqdError(
            "Timeout",
            `the response's head arrived, its body not within ${timeoutMs} ms`,
            { status: 0, cause },
          );
          stalledBody.add(error);
          return error;
        }
        const error = timeout(timeoutMs, cause);
        if (this.#beyondOwnBound(timeoutMs, spec)) frozen.add(error);
        return error;
      }
      const where = `${spec.method} ${baseUrl}${spec.path}`;
      if (head.silence !== undefined) {
        const error = new CmqdError("Timeout", `${where}: ${head.silence}`, { status: 0, cause });
        silent.add(error);
        const headTimeoutMs = spec.headTimeoutMs ?? this.#headTimeoutMs;
        if (head.probed || this.#beyondOwnBound(headTimeoutMs, spec)) frozen.add(error);
        return error;
      }
      if (!isNetworkFailure(cause)) return cause;
      const error = new CmqdError("NetworkError", `${where}: ${cause}`, { status: 0, cause });
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
        // Raced against the abort: a transport deaf to its signal cannot outlast the timeout.
        response = await this.#untilAborted(
          this.#transport.request({
            url: baseUrl + spec.path,
            method: spec.method,
            headers,
            body,
            signal: controller.signal,
            onHead,
          }),
          controller.signal,
        );
      } catch (cause) {
        throw noAnswer(cause);
      }
      onHead();
      this.#nodes.answered(baseUrl);
      this.#noteLeader(response);
      let text: string;
      try {
        text = await this.#untilAborted(response.text(), controller.signal);
      } catch (cause) {
        throw noAnswer(cause);
      }
      if (response.status < 200 || response.status > 299) {
        throw errorFromAnswer(response.status, response.header, text);
      }
      return { status: response.status, body: parseBody(response.status, text, spec.response) };
    } finally {
      deadline.cancel();
      head.end();
      spec.signal?.removeEventListener("abort", onAbort);
    }
  }

  /**
   * The head deadline of one attempt (see `headTimeoutMs`): when it passes first, `moveOn`
   * abandons the attempt, `probe` asks the node's `/healthz` and abandons it only when that gets
   * no answer either. `silence` says why it was abandoned.
   */
  #watchHead(
    baseUrl: string,
    spec: RequestSpec,
    policy: HeadPolicy,
    controller: AbortController,
  ): HeadWatch {
    const watch: HeadWatch = {
      silence: undefined,
      probed: false,
      arrived: () => {},
      end: () => {},
    };
    if (policy === "none") return watch;
    const headTimeoutMs = spec.headTimeoutMs ?? this.#headTimeoutMs;
    let done = false;
    let probe: AbortController | undefined;
    const abandon = (why: string) => {
      if (done) return;
      watch.silence = `no response head within ${headTimeoutMs} ms${why}`;
      controller.abort();
    };
    const deadline = this.#deadlines.add(headTimeoutMs, () => {
      if (done) return;
      if (policy === "moveOn") return abandon("; trying another node");
      probe = new AbortController();
      const probeMs = Math.min(headTimeoutMs, probeTimeoutMsMax);
      void this.#alive(baseUrl, probeMs, probe.signal).then((alive) => {
        if (!alive && !done) {
          watch.probed = true;
          abandon(
            ` and no answer to GET /healthz within ${probeMs} ms: the node is unresponsive; ` +
              "the request may or may not have taken effect",
          );
        }
      });
    });
    watch.arrived = () => {
      if (done) return;
      done = true;
      deadline.cancel();
      probe?.abort();
    };
    watch.end = () => {
      done = true;
      deadline.cancel();
      probe?.abort();
    };
    return watch;
  }

  /** True when `baseUrl` answers `GET /healthz` (any status: it is alive) within `ms`. */
  async #alive(baseUrl: string, ms: number, signal: AbortSignal): Promise<boolean> {
    const controller = new AbortController();
    const deadline = this.#deadlines.add(ms, () => controller.abort());
    const onAbort = () => controller.abort();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      const response = await this.#untilAborted(
        this.#transport.request({
          url: `${baseUrl}/healthz`,
          method: "GET",
          headers: { ...this.#headers },
          signal: controller.signal,
        }),
        controller.signal,
      );
      await this.#untilAborted(response.text(), controller.signal).catch(() => "");
      return true;
    } catch {
      return false;
    } finally {
      deadline.cancel();
      signal.removeEventListener("abort", onAbort);
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
    if (this.#lastHint.url !== undefined) this.#nodes.leaderUrl = this.#lastHint.url;
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

/**
 * The per-call fields of `options`, and nothing else (a caller can't override the spec); a bad
 * timeout throws (inside a call: it rejects, before anything is sent).
 */
export function callOf(
  options: CallOptions,
): Pick<RequestSpec, "signal" | "timeoutMs" | "headTimeoutMs"> {
  const { timeoutMs, headTimeoutMs } = options;
  return {
    signal: options.signal,
    timeoutMs: timeoutMs === undefined ? undefined : checkTimeoutMs("timeoutMs", timeoutMs, "none"),
    headTimeoutMs: headTimeoutMs === undefined
      ? undefined
      : checkTimeoutMs("headTimeoutMs", headTimeoutMs, "off"),
  };
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

/** Settles with `waiting`, or as soon as `signal` aborts (the caller checks the signal). */
function untilAborted(waiting: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return waiting;
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve();
    signal.addEventListener("abort", onAbort, { once: true });
    waiting.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

function aborted(signal: AbortSignal): CmqdError {
  return new CmqdError("Aborted", "the call was aborted", { status: 0, cause: signal.reason });
}

function timeout(timeoutMs: number, cause: unknown): CmqdError {
  return new CmqdError("Timeout", `no answer within ${timeoutMs} ms`, { status: 0, cause });
}
