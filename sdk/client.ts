/**
 * A typed client of the native v1 API. It runs unchanged in Deno, Node ≥ 20 and browsers: the
 * bytes move through an `HttpTransport` — `fetch`, or `node:http` keep-alive agents when it runs
 * in Node (see `transport.ts`). One method per endpoint, named like the broker's `QueueService`.
 *
 * Failures reject with `CmqdError`. The client retries on its own only when a retry can't do
 * harm: 503 `NoLeader` / `NotReady` (the broker did not execute the request; `Retry-After` is
 * honoured) and connections that were never made (refused, unknown host) on every call;
 * network errors or timeouts after the request may have been sent only on calls that are safe
 * to repeat — reads, `createQueue` (idempotent with the same attributes), deletes and
 * visibility changes (a repeat changes nothing more; it may report the handle as stale), and
 * sends whose every message carries a `dedupId`. Back-off is exponential with jitter, bounded
 * by `retry`.
 *
 * `baseUrl` may list several nodes: a call that gets no answer moves on to the next one.
 * Responses carry `x-cmqd-leader`; the client remembers it and sends later requests straight
 * to the leader, falling back to the listed nodes when the leader can't be reached.
 *
 * @module
 */
import { CmqdError, errorFromAnswer } from "./errors.ts";
import { signRequest } from "./signing.ts";
import type {
  ChangeVisibilityResponse,
  ClusterInfo,
  DeleteMessagesResponse,
  PurgeResponse,
  Queue,
  QueueAttributesInput,
  QueueList,
  ReceiveMessagesRequest,
  ReceiveMessagesResponse,
  RedriveRequest,
  RedriveResponse,
  RewindRequest,
  RewindResponse,
  SendMessageEntry,
  SendMessagesResponse,
  VisibilityEntry,
} from "./protocol.ts";
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
  /** How requests travel; default `defaultTransport()` (node:http in Node, else fetch). */
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
const waitSecondsMax = 30;

type Method = "GET" | "PUT" | "PATCH" | "POST" | "DELETE";

interface RequestSpec {
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

interface Answer {
  status: number;
  body: unknown;
}

/** Errors of requests that never reached a server: safe to send elsewhere, whatever they do. */
const neverSent = new WeakSet<CmqdError>();

/**
 * The native v1 client.
 *
 * @example
 * ```ts
 * const client = new CmqdClient({ baseUrl: ["http://10.0.0.1:8080", "http://10.0.0.2:8080"] });
 * await client.createQueue("orders", { visibilityTimeoutSeconds: 60 });
 * await client.sendMessages("orders", [{ body: "hello" }]);
 * const { messages } = await client.receiveMessages("orders", { waitSeconds: 5 });
 * await client.deleteMessages("orders", messages.map((m) => m.receiptHandle));
 * client.close();
 * ```
 */
export class CmqdClient {
  readonly #baseUrls: string[];
  readonly #transport: HttpTransport;
  readonly #headers: Record<string, string>;
  readonly #timeoutMs: number;
  readonly #retry: RetryOptions;
  readonly #followLeader: boolean;
  readonly #sleep: (ms: number) => Promise<void>;
  /** Which of `#baseUrls` calls go to while no leader is known. */
  #nodeIndex = 0;
  readonly #credentials: Credentials | undefined;
  #leaderUrl: string | undefined;

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

  /** Creates `name`; `created` is false when an identical queue existed (409 if different). */
  async createQueue(
    name: string,
    attributes: QueueAttributesInput = {},
    options: CallOptions = {},
  ): Promise<{ queue: Queue; created: boolean }> {
    const answer = await this.#request({
      method: "PUT",
      path: queuePath(name),
      body: attributes,
      repeatable: true,
      ...callOf(options),
    });
    return { queue: answer.body as Queue, created: answer.status === 201 };
  }

  /** A page of queues, by name. */
  async listQueues(
    page: { prefix?: string; offset?: number; limit?: number } = {},
    options: CallOptions = {},
  ): Promise<QueueList> {
    const query = new URLSearchParams();
    if (page.prefix !== undefined) query.set("prefix", page.prefix);
    if (page.offset !== undefined) query.set("offset", String(page.offset));
    if (page.limit !== undefined) query.set("limit", String(page.limit));
    const search = query.size === 0 ? "" : `?${query}`;
    return await this.#json({
      method: "GET",
      path: `/v1/queues${search}`,
      repeatable: true,
      ...callOf(options),
    });
  }

  /** Attributes and live counts of `name`. */
  async getQueue(name: string, options: CallOptions = {}): Promise<Queue> {
    return await this.#json({
      method: "GET",
      path: queuePath(name),
      repeatable: true,
      ...callOf(options),
    });
  }

  /** Changes mutable attributes; `deadLetter: null` removes the policy. */
  async updateQueue(
    name: string,
    attributes: QueueAttributesInput,
    options: CallOptions = {},
  ): Promise<Queue> {
    return await this.#json({
      method: "PATCH",
      path: queuePath(name),
      body: attributes,
      repeatable: false,
      ...callOf(options),
    });
  }

  /** Deletes `name` and its messages. */
  async deleteQueue(name: string, options: CallOptions = {}): Promise<void> {
    await this.#request({
      method: "DELETE",
      path: queuePath(name),
      repeatable: false,
      response: "none",
      ...callOf(options),
    });
  }

  /** Sends a batch; ids and sequences come back in request order. */
  async sendMessages(
    queue: string,
    messages: SendMessageEntry[],
    options: CallOptions = {},
  ): Promise<SendMessagesResponse> {
    return await this.#json({
      method: "POST",
      path: `${queuePath(queue)}/messages`,
      body: { messages },
      // With a dedupId on every message a repeat enqueues nothing new.
      repeatable: messages.length > 0 && messages.every((message) => message.dedupId !== undefined),
      ...callOf(options),
    });
  }

  /**
   * Receives (and locks) up to `maxMessages`, long-polling up to `waitSeconds`. The request's
   * timeout is the call's plus the wait, so a long poll is never cut short by the client. Not
   * repeated after a lost answer: the lost messages would stay locked for nothing.
   */
  async receiveMessages(
    queue: string,
    request: ReceiveMessagesRequest = {},
    options: CallOptions = {},
  ): Promise<ReceiveMessagesResponse> {
    const waitSeconds = request.waitSeconds ?? waitSecondsMax;
    return await this.#json({
      method: "POST",
      path: `${queuePath(queue)}/messages/receive`,
      body: request,
      repeatable: false,
      signal: options.signal,
      timeoutMs: (options.timeoutMs ?? this.#timeoutMs) + waitSeconds * 1000,
    });
  }

  /** Deletes received messages; stale or invalid handles are reported in `failures`. */
  async deleteMessages(
    queue: string,
    receiptHandles: string[],
    options: CallOptions = {},
  ): Promise<DeleteMessagesResponse> {
    return await this.#json({
      method: "POST",
      path: `${queuePath(queue)}/messages/delete`,
      body: { receiptHandles },
      // A repeat deletes nothing more; a handle deleted by the lost attempt reports stale.
      repeatable: true,
      ...callOf(options),
    });
  }

  /** Extends or releases (0) the locks of received messages. */
  async changeVisibility(
    queue: string,
    entries: VisibilityEntry[],
    options: CallOptions = {},
  ): Promise<ChangeVisibilityResponse> {
    return await this.#json({
      method: "POST",
      path: `${queuePath(queue)}/messages/visibility`,
      body: { entries },
      // A repeat sets the same lock again, measured from a moment later.
      repeatable: true,
      ...callOf(options),
    });
  }

  /** Moves the read position back to a timestamp or sequence inside the rewind window. */
  async rewind(
    queue: string,
    request: RewindRequest,
    options: CallOptions = {},
  ): Promise<RewindResponse> {
    return await this.#json({
      method: "POST",
      path: `${queuePath(queue)}/rewind`,
      body: request,
      repeatable: false,
      ...callOf(options),
    });
  }

  /** Deletes every message of `queue`. */
  async purge(queue: string, options: CallOptions = {}): Promise<PurgeResponse> {
    return await this.#json({
      method: "POST",
      path: `${queuePath(queue)}/purge`,
      repeatable: false,
      ...callOf(options),
    });
  }

  /** Moves messages of a dead-letter queue back to their origin (or `destination`). */
  async redrive(
    queue: string,
    request: RedriveRequest = {},
    options: CallOptions = {},
  ): Promise<RedriveResponse> {
    return await this.#json({
      method: "POST",
      path: `${queuePath(queue)}/redrive`,
      body: request,
      repeatable: false,
      ...callOf(options),
    });
  }

  /** `GET /healthz`: resolves when the node answers. */
  async health(options: CallOptions = {}): Promise<{ status: string }> {
    return await this.#json({
      method: "GET",
      path: "/healthz",
      repeatable: true,
      ...callOf(options),
    });
  }

  /** `GET /readyz`: true when the node serves writes, false while it is not ready. */
  async ready(options: CallOptions = {}): Promise<boolean> {
    try {
      await this.#request({
        method: "GET",
        path: "/readyz",
        repeatable: true,
        retryUnavailable: false,
        ...callOf(options),
      });
      return true;
    } catch (error) {
      if (error instanceof CmqdError && error.code === "NotReady") return false;
      throw error;
    }
  }

  /** `GET /v1/cluster`: nodes, roles, leader and commit indexes. */
  async cluster(options: CallOptions = {}): Promise<ClusterInfo> {
    return await this.#json({
      method: "GET",
      path: "/v1/cluster",
      repeatable: true,
      ...callOf(options),
    });
  }

  /** `GET /metrics`: the Prometheus text. */
  async metrics(options: CallOptions = {}): Promise<string> {
    const answer = await this.#request({
      method: "GET",
      path: "/metrics",
      repeatable: true,
      response: "text",
      ...callOf(options),
    });
    return answer.body as string;
  }

  async #json<T>(spec: RequestSpec): Promise<T> {
    return (await this.#request(spec)).body as T;
  }

  /** One logical call: attempts, back-off, leader hint, moving on through the node list. */
  async #request(spec: RequestSpec): Promise<Answer> {
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
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
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
      clearTimeout(timer);
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
    try {
      const url = new URL(hint);
      if (url.protocol === "http:" || url.protocol === "https:") {
        this.#leaderUrl = normalizeBaseUrl(url.href);
      }
    } catch {
      // A hint that is not a URL is ignored; the configured node keeps working.
    }
  }
}

/** The per-call fields of `options`, and nothing else (a caller can't override the spec). */
function callOf(options: CallOptions): Pick<RequestSpec, "signal" | "timeoutMs"> {
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

function queuePath(name: string): string {
  return `/v1/queues/${encodeURIComponent(name)}`;
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
