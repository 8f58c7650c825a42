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
  type Queue,
  type QueueAttributesInput,
  type ReceiveMessagesRequest,
  type ReceiveMessagesResponse,
  type SendMessageEntry,
  type SendMessagesResponse,
} from "../sdk/mod.ts";

/**
 * Which client implementation a run uses: the SDK (on its default transport, or on `fetch` with
 * `sdk-fetch`, to compare transports), a bare v1 `fetch` client, or a client of the CMQ or SQS
 * door (`door_clients.ts`).
 */
export type ClientKind = "sdk" | "sdk-fetch" | "fetch" | "cmq" | "sqs";

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

/** A minimal JSON-over-fetch client of the v1 API with its own connection pool. */
export class FetchBenchClient implements BenchClient {
  #baseUrl: string;
  #httpClient: Deno.HttpClient;

  constructor(baseUrl: string) {
    this.#baseUrl = baseUrl.replace(/\/+$/, "");
    this.#httpClient = Deno.createHttpClient({});
  }

  async #call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.#baseUrl}${path}`, {
      method,
      client: this.#httpClient,
      headers: body === undefined ? undefined : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 204) {
      await response.body?.cancel();
      return undefined as T;
    }
    const text = await response.text();
    if (!response.ok) {
      let code = "HttpError";
      let message = text.slice(0, 200);
      try {
        const parsed = JSON.parse(text);
        code = parsed?.error?.code ?? code;
        message = parsed?.error?.message ?? message;
      } catch {
        // not a JSON error body; keep the raw text
      }
      throw new BenchHttpError(response.status, code, message);
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
    this.#httpClient.close();
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
  if (kind === "fetch") return new FetchBenchClient(baseUrl);
  if (kind === "cmq" || kind === "sqs") {
    const doors = await import("./door_clients.ts");
    return kind === "cmq" ? new doors.CmqBenchClient(baseUrl) : new doors.SqsBenchClient(baseUrl);
  }
  return new SdkBenchClient(baseUrl, kind === "sdk-fetch");
}
