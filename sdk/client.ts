/**
 * A typed client of the native v1 API, built on `fetch` alone so it runs unchanged in Deno,
 * Node ≥ 20 and browsers. One method per endpoint, named like the broker's `QueueService`.
 *
 * Failures reject with `CmqdError`. The client retries on its own only when a retry can't do
 * harm: 503 `NoLeader` / `NotReady` (the broker did not execute the request; `Retry-After` is
 * honoured) on every call, and network errors or timeouts only on calls that are safe to
 * repeat — reads, `createQueue` (idempotent with the same attributes) and sends whose every
 * message carries a `dedupId`. Back-off is exponential with jitter, bounded by `retry`.
 *
 * Responses carry `x-cmqd-leader`; the client remembers it and sends later requests straight
 * to the leader, falling back to `baseUrl` when the leader can't be reached.
 *
 * @module
 */
import { CmqdError } from "./errors.ts";
import { signRequest } from "./signing.ts";
import type {
  ChangeVisibilityResponse,
  ClusterInfo,
  DeleteMessagesResponse,
  ErrorBody,
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

/** Bounds of the automatic retries. */
export interface RetryOptions {
  /** Attempts in total, the first one included (1 = never retry). */
  attemptsMax: number;
  /** Back-off before the first retry. */
  backoffMsMin: number;
  /** Back-off never grows past this (a `Retry-After` may ask for longer; see below). */
  backoffMsMax: number;
}

/** Options of a `CmqdClient`. */
export interface CmqdClientOptions {
  /** Any node of the cluster, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** The transport; default the global `fetch`. */
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
}

/** The default retry bounds. */
export const retryDefaults: RetryOptions = {
  attemptsMax: 4,
  backoffMsMin: 50,
  backoffMsMax: 2_000,
};

const timeoutMsDefault = 30_000;
/** A `Retry-After` longer than this is cut: a client should not hang for minutes. */
const retryAfterMsMax = 30_000;
/** The longest long-poll wait of API.md (`pollingWaitSeconds` max), used when none is given. */
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
  timeoutMs?: number;
  signal?: AbortSignal;
  /** False for `/readyz`, whose 503 is an answer, not a failure to retry. */
  retryUnavailable?: boolean;
}

interface Answer {
  status: number;
  body: unknown;
}

/**
 * The native v1 client.
 *
 * @example
 * ```ts
 * const client = new CmqdClient({ baseUrl: "http://127.0.0.1:8080" });
 * await client.createQueue("orders", { visibilityTimeoutSeconds: 60 });
 * await client.sendMessages("orders", [{ body: "hello" }]);
 * const { messages } = await client.receiveMessages("orders", { waitSeconds: 5 });
 * await client.deleteMessages("orders", messages.map((m) => m.receiptHandle));
 * ```
 */
export class CmqdClient {
  readonly #baseUrl: string;
  readonly #fetch: typeof fetch;
  readonly #headers: Record<string, string>;
  readonly #timeoutMs: number;
  readonly #retry: RetryOptions;
  readonly #followLeader: boolean;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #credentials: Credentials | undefined;
  #leaderUrl: string | undefined;

  constructor(options: CmqdClientOptions) {
    this.#baseUrl = normalizeBaseUrl(options.baseUrl);
    const transport = options.fetch;
    this.#fetch = transport ?? ((input, init) => fetch(input, init));
    this.#headers = { ...options.headers };
    this.#timeoutMs = options.timeoutMs ?? timeoutMsDefault;
    this.#retry = { ...retryDefaults, ...options.retry };
    if (!(this.#retry.attemptsMax >= 1)) throw new RangeError("retry.attemptsMax must be ≥ 1");
    this.#followLeader = options.followLeader ?? true;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#credentials = checkCredentials(options.credentials);
  }

  /** The leader base URL the client currently sends to, if it learned one. */
  get leaderUrl(): string | undefined {
    return this.#leaderUrl;
  }

  /** Creates `name`; `created` is false when an identical queue existed (409 if different). */
  async createQueue(
    name: string,
    attributes: QueueAttributesInput = {},
  ): Promise<{ queue: Queue; created: boolean }> {
    const answer = await this.#request({
      method: "PUT",
      path: queuePath(name),
      body: attributes,
      repeatable: true,
    });
    return { queue: answer.body as Queue, created: answer.status === 201 };
  }

  /** A page of queues, by name. */
  async listQueues(
    options: { prefix?: string; offset?: number; limit?: number } = {},
  ): Promise<QueueList> {
    const query = new URLSearchParams();
    if (options.prefix !== undefined) query.set("prefix", options.prefix);
    if (options.offset !== undefined) query.set("offset", String(options.offset));
    if (options.limit !== undefined) query.set("limit", String(options.limit));
    const search = query.size === 0 ? "" : `?${query}`;
    return await this.#json({ method: "GET", path: `/v1/queues${search}`, repeatable: true });
  }

  /** Attributes and live counts of `name`. */
  async getQueue(name: string): Promise<Queue> {
    return await this.#json({ method: "GET", path: queuePath(name), repeatable: true });
  }

  /** Changes mutable attributes; `deadLetter: null` removes the policy. */
  async updateQueue(name: string, attributes: QueueAttributesInput): Promise<Queue> {
    return await this.#json({
      method: "PATCH",
      path: queuePath(name),
      body: attributes,
      repeatable: false,
    });
  }

  /** Deletes `name` and its messages. */
  async deleteQueue(name: string): Promise<void> {
    await this.#request({
      method: "DELETE",
      path: queuePath(name),
      repeatable: false,
      response: "none",
    });
  }

  /** Sends a batch; ids and sequences come back in request order. */
  async sendMessages(queue: string, messages: SendMessageEntry[]): Promise<SendMessagesResponse> {
    return await this.#json({
      method: "POST",
      path: `${queuePath(queue)}/messages`,
      body: { messages },
      // With a dedupId on every message a repeat enqueues nothing new.
      repeatable: messages.length > 0 && messages.every((message) => message.dedupId !== undefined),
    });
  }

  /**
   * Receives (and locks) up to `maxMessages`, long-polling up to `waitSeconds`. The request's
   * timeout is the client's plus the wait, so a long poll is never cut short by the client.
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
      timeoutMs: this.#timeoutMs + waitSeconds * 1000,
      signal: options.signal,
    });
  }

  /** Deletes received messages; stale or invalid handles are reported in `failures`. */
  async deleteMessages(queue: string, receiptHandles: string[]): Promise<DeleteMessagesResponse> {
    return await this.#json({
      method: "POST",
      path: `${queuePath(queue)}/messages/delete`,
      body: { receiptHandles },
      repeatable: false,
    });
  }

  /** Extends or releases (0) the locks of received messages. */
  async changeVisibility(
    queue: string,
    entries: VisibilityEntry[],
  ): Promise<ChangeVisibilityResponse> {
    return await this.#json({
      method: "POST",
      path: `${queuePath(queue)}/messages/visibility`,
      body: { entries },
      repeatable: false,
    });
  }

  /** Moves the read position back to a timestamp or sequence inside the rewind window. */
  async rewind(queue: string, request: RewindRequest): Promise<RewindResponse> {
    return await this.#json({
      method: "POST",
      path: `${queuePath(queue)}/rewind`,
      body: request,
      repeatable: false,
    });
  }

  /** Deletes every message of `queue`. */
  async purge(queue: string): Promise<PurgeResponse> {
    return await this.#json({
      method: "POST",
      path: `${queuePath(queue)}/purge`,
      repeatable: false,
    });
  }

  /** Moves messages of a dead-letter queue back to their origin (or `destination`). */
  async redrive(queue: string, request: RedriveRequest = {}): Promise<RedriveResponse> {
    return await this.#json({
      method: "POST",
      path: `${queuePath(queue)}/redrive`,
      body: request,
      repeatable: false,
    });
  }

  /** `GET /healthz`: resolves when the node answers. */
  async health(): Promise<{ status: string }> {
    return await this.#json({ method: "GET", path: "/healthz", repeatable: true });
  }

  /** `GET /readyz`: true when the node serves writes, false while it is not ready. */
  async ready(): Promise<boolean> {
    try {
      await this.#request({
        method: "GET",
        path: "/readyz",
        repeatable: true,
        retryUnavailable: false,
      });
      return true;
    } catch (error) {
      if (error instanceof CmqdError && error.code === "NotReady") return false;
      throw error;
    }
  }

  /** `GET /v1/cluster`: nodes, roles, leader and commit indexes. */
  async cluster(): Promise<ClusterInfo> {
    return await this.#json({ method: "GET", path: "/v1/cluster", repeatable: true });
  }

  /** `GET /metrics`: the Prometheus text. */
  async metrics(): Promise<string> {
    const answer = await this.#request({
      method: "GET",
      path: "/metrics",
      repeatable: true,
      response: "text",
    });
    return answer.body as string;
  }

  async #json<T>(spec: RequestSpec): Promise<T> {
    return (await this.#request(spec)).body as T;
  }

  /** One logical call: attempts, back-off, leader hint. */
  async #request(spec: RequestSpec): Promise<Answer> {
    for (let attempt = 1;; attempt++) {
      const usedLeader = this.#leaderUrl !== undefined;
      let error: CmqdError;
      try {
        return await this.#attempt(this.#leaderUrl ?? this.#baseUrl, spec);
      } catch (caught) {
        if (!(caught instanceof CmqdError)) throw caught;
        error = caught;
      }
      // The leader we were sent to is gone: ask the configured node again.
      if (usedLeader && error.status === 0) this.#leaderUrl = undefined;
      const delayMs = this.#retryDelayMs(spec, error, attempt);
      if (delayMs === undefined) throw error;
      await this.#sleep(delayMs);
      if (spec.signal?.aborted) throw aborted(spec.signal);
    }
  }

  /** Milliseconds to wait before another attempt, or undefined to give up with `error`. */
  #retryDelayMs(spec: RequestSpec, error: CmqdError, attempt: number): number | undefined {
    if (attempt >= this.#retry.attemptsMax) return undefined;
    const unavailable = error.status === 503 &&
      (error.code === "NoLeader" || error.code === "NotReady") &&
      spec.retryUnavailable !== false;
    const lost = (error.code === "NetworkError" || error.code === "Timeout") && spec.repeatable;
    if (!unavailable && !lost) return undefined;
    if (error.retryAfterSeconds !== undefined) {
      return Math.min(error.retryAfterSeconds * 1000, retryAfterMsMax);
    }
    const ceiling = Math.min(
      this.#retry.backoffMsMax,
      this.#retry.backoffMsMin * 2 ** (attempt - 1),
    );
    // Jitter in [ceiling/2, ceiling] spreads clients that failed together.
    return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
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
    try {
      if (spec.signal?.aborted) throw aborted(spec.signal);
      const headers: Record<string, string> = { ...this.#headers };
      if (spec.body !== undefined) headers["content-type"] = "application/json";
      if (authorization !== undefined) headers.authorization = authorization;
      let response: Response;
      try {
        response = await this.#fetch(baseUrl + spec.path, {
          method: spec.method,
          headers,
          body,
          signal: controller.signal,
        });
      } catch (cause) {
        if (spec.signal?.aborted) throw aborted(spec.signal);
        if (timedOut) throw timeout(timeoutMs, cause);
        throw new CmqdError("NetworkError", `${spec.method} ${baseUrl}${spec.path}: ${cause}`, {
          status: 0,
          cause,
        });
      }
      this.#noteLeader(response);
      if (!response.ok) throw await errorFrom(response);
      return { status: response.status, body: await readBody(response, spec.response) };
    } catch (error) {
      if (error instanceof CmqdError) throw error;
      if (spec.signal?.aborted) throw aborted(spec.signal);
      if (timedOut) throw timeout(timeoutMs, error);
      throw new CmqdError("NetworkError", `reading the response failed: ${error}`, {
        status: 0,
        cause: error,
      });
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

  #noteLeader(response: Response): void {
    if (!this.#followLeader) return;
    const hint = response.headers.get("x-cmqd-leader");
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

async function readBody(response: Response, kind: RequestSpec["response"]): Promise<unknown> {
  if (kind === "none" || response.status === 204) {
    await response.body?.cancel();
    return undefined;
  }
  return kind === "text" ? await response.text() : await response.json();
}

async function errorFrom(response: Response): Promise<CmqdError> {
  const text = await response.text();
  const retryAfterSeconds = parseRetryAfter(response.headers.get("retry-after"));
  let body: Partial<ErrorBody> | undefined;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const error = body?.error;
  if (error !== undefined && typeof error.code === "string") {
    return new CmqdError(error.code, error.message, {
      status: response.status,
      requestId: error.requestId ?? response.headers.get("x-request-id") ?? undefined,
      field: error.field,
      retryAfterSeconds,
    });
  }
  return new CmqdError(
    "UnexpectedResponse",
    `HTTP ${response.status}: ${text.slice(0, 200)}`,
    {
      status: response.status,
      requestId: response.headers.get("x-request-id") ?? undefined,
      retryAfterSeconds,
    },
  );
}

/** `Retry-After` as seconds: either a number of seconds or an HTTP date. */
function parseRetryAfter(value: string | null): number | undefined {
  if (value === null) return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - Date.now()) / 1000);
}

function aborted(signal: AbortSignal): CmqdError {
  return new CmqdError("Aborted", "the call was aborted", { status: 0, cause: signal.reason });
}

function timeout(timeoutMs: number, cause: unknown): CmqdError {
  return new CmqdError("Timeout", `no answer within ${timeoutMs} ms`, { status: 0, cause });
}
