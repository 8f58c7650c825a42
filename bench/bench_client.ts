/**
 * The few client calls the load generator makes, behind one interface so that a run can go through
 * the SDK (the default: what users run) or through a bare `fetch` client (to see what the
 * SDK itself costs). Each `BenchClient` owns its own HTTP connection pool, so one producer or
 * consumer is one set of connections, like a connection in the anchors' harness.
 *
 * @module
 */

import {
  CmqdClient,
  type DeleteMessagesResponse,
  FetchTransport,
  Http1Transport,
  type HttpTransport,
  type Queue,
  type QueueAttributesInput,
  type ReceiveMessagesRequest,
  type ReceiveMessagesResponse,
  type SendMessageEntry,
  type SendMessagesResponse,
} from "../sdk/mod.ts";

/**
 * Which client implementation a run uses: the SDK (on its default transport, or on `fetch` with
 * `sdk-fetch`, to compare transports), a bare v1 client, or a bare client of the CMQ or SQS door
 * (`door_clients.ts`). The bare clients go over `fetch`, or over the SDK's `Http1Transport` with
 * the `-http1` kinds (`http1` for v1).
 */
export type ClientKind =
  | "sdk"
  | "sdk-fetch"
  | "fetch"
  | "http1"
  | "cmq"
  | "sqs"
  | "cmq-http1"
  | "sqs-http1";

/** Every `ClientKind`, for validating a flag. */
export const clientKinds: readonly ClientKind[] = [
  "sdk",
  "sdk-fetch",
  "fetch",
  "http1",
  "cmq",
  "sqs",
  "cmq-http1",
  "sqs-http1",
];

/** What carries a bare client's requests: `fetch` (a pool of its own) or `Http1Transport`. */
export type BareTransport = "fetch" | "http1";

/** The calls the load shapes need. */
export interface BenchClient {
  createQueue(name: string, attributes: QueueAttributesInput): Promise<Queue>;
  getQueue(name: string): Promise<Queue>;
  deleteQueue(name: string): Promise<void>;
  sendMessages(queue: string, messages: SendMessageEntry[]): Promise<SendMessagesResponse>;
  receiveMessages(queue: string, request: ReceiveMessagesRequest): Promise<ReceiveMessagesResponse>;
  deleteMessages(queue: string, receiptHandles: string[]): Promise<DeleteMessagesResponse>;
  close(): void;
}

/** A failed call, with the HTTP status and the error code of the body. */
export class BenchHttpError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(`${status} ${code}: ${message}`);
    this.name = "BenchHttpError";
    this.status = status;
    this.code = code;
  }
}

/** A never-aborted signal for the bare clients' requests. */
const noAbort = new AbortController().signal;

/** The requests of a bare client: its own connection pool, over `fetch` or `Http1Transport`. */
export class BareHttp {
  readonly #transport: HttpTransport;
  readonly #httpClient: Deno.HttpClient | undefined;

  constructor(over: BareTransport) {
    if (over === "http1") {
      this.#transport = new Http1Transport();
      return;
    }
    const httpClient = Deno.createHttpClient({});
    this.#httpClient = httpClient;
    this.#transport = new FetchTransport((input, init) =>
      fetch(input, { ...init, client: httpClient })
    );
  }

  /** Sends one request; answers its status and text. */
  async request(
    method: string,
    url: string,
    headers: Record<string, string>,
    body?: string,
  ): Promise<{ status: number; text: string }> {
    const answer = await this.#transport.request({ url, method, headers, body, signal: noAbort });
    return { status: answer.status, text: await answer.text() };
  }

  close(): void {
    this.#transport.close?.();
    this.#httpClient?.close();
  }
}

/** A minimal JSON client of the v1 API with its own connection pool. */
export class FetchBenchClient implements BenchClient {
  #baseUrl: string;
  #http: BareHttp;

  constructor(baseUrl: string, over: BareTransport = "fetch") {
    this.#baseUrl = baseUrl.replace(/\/+$/, "");
    this.#http = new BareHttp(over);
  }

  async #call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const { status, text } = await this.#http.request(
      method,
      `${this.#baseUrl}${path}`,
      body === undefined ? {} : { "content-type": "application/json" },
      body === undefined ? undefined : JSON.stringify(body),
    );
    if (status === 204) return undefined as T;
    if (status < 200 || status > 299) {
      let code = "HttpError";
      let message = text.slice(0, 200);
      try {
        const parsed = JSON.parse(text);
        code = parsed?.error?.code ?? code;
        message = parsed?.error?.message ?? message;
      } catch {
        // not a JSON error body; keep the raw text
      }
      throw new BenchHttpError(status, code, message);
    }
    return JSON.parse(text) as T;
  }

  #queuePath(name: string): string {
    return `/v1/queues/${encodeURIComponent(name)}`;
  }

  createQueue(name: string, attributes: QueueAttributesInput): Promise<Queue> {
    return this.#call("PUT", this.#queuePath(name), attributes);
  }

  getQueue(name: string): Promise<Queue> {
    return this.#call("GET", this.#queuePath(name));
  }

  deleteQueue(name: string): Promise<void> {
    return this.#call("DELETE", this.#queuePath(name));
  }

  sendMessages(queue: string, messages: SendMessageEntry[]): Promise<SendMessagesResponse> {
    return this.#call("POST", `${this.#queuePath(queue)}/messages`, { messages });
  }

  receiveMessages(
    queue: string,
    request: ReceiveMessagesRequest,
  ): Promise<ReceiveMessagesResponse> {
    return this.#call("POST", `${this.#queuePath(queue)}/messages/receive`, request);
  }

  deleteMessages(queue: string, receiptHandles: string[]): Promise<DeleteMessagesResponse> {
    return this.#call("POST", `${this.#queuePath(queue)}/messages/delete`, { receiptHandles });
  }

  close(): void {
    this.#http.close();
  }
}

/** The SDK's `CmqdClient` on a connection pool of its own. */
export class SdkBenchClient implements BenchClient {
  #client: CmqdClient;
  #httpClient: Deno.HttpClient | undefined;

  /**
   * `overFetch` false: the SDK's default transport, as users get it (`Http1Transport` in Deno,
   * `node:http` agents under Node, `runtimes.ts`). True: `fetch` on an HTTP client of its own.
   */
  constructor(baseUrl: string, overFetch = false) {
    if (!overFetch) {
      this.#client = new CmqdClient({ baseUrl });
      return;
    }
    const httpClient = Deno.createHttpClient({});
    this.#httpClient = httpClient;
    this.#client = new CmqdClient({
      baseUrl,
      fetch: (input, init) => fetch(input, { ...init, client: httpClient }),
    });
  }

  async createQueue(name: string, attributes: QueueAttributesInput): Promise<Queue> {
    return (await this.#client.createQueue(name, attributes)).queue;
  }

  getQueue(name: string): Promise<Queue> {
    return this.#client.getQueue(name);
  }

  deleteQueue(name: string): Promise<void> {
    return this.#client.deleteQueue(name);
  }

  sendMessages(queue: string, messages: SendMessageEntry[]): Promise<SendMessagesResponse> {
    return this.#client.sendMessages(queue, messages);
  }

  receiveMessages(
    queue: string,
    request: ReceiveMessagesRequest,
  ): Promise<ReceiveMessagesResponse> {
    return this.#client.receiveMessages(queue, request);
  }

  deleteMessages(queue: string, receiptHandles: string[]): Promise<DeleteMessagesResponse> {
    return this.#client.deleteMessages(queue, receiptHandles);
  }

  close(): void {
    this.#client.close();
    this.#httpClient?.close();
  }
}

/**
 * Makes a client of the given kind for `baseUrl`.
 *
 * @example
 * ```ts
 * const client = await createBenchClient("http://127.0.0.1:8080", "fetch");
 * await client.createQueue("bench", {});
 * client.close();
 * ```
 */
export async function createBenchClient(baseUrl: string, kind: ClientKind): Promise<BenchClient> {
  const over: BareTransport = kind.endsWith("http1") ? "http1" : "fetch";
  if (kind === "fetch" || kind === "http1") return new FetchBenchClient(baseUrl, over);
  if (kind.startsWith("cmq") || kind.startsWith("sqs")) {
    const doors = await import("./door_clients.ts");
    return kind.startsWith("cmq")
      ? new doors.CmqBenchClient(baseUrl, over)
      : new doors.SqsBenchClient(baseUrl, over);
  }
  return new SdkBenchClient(baseUrl, kind === "sdk-fetch");
}
