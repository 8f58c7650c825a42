/**
 * A do-nothing-but-correct in-memory server speaking the v1 endpoints the load generator uses:
 * create / get / delete queue, send batch, receive batch (with `deleteReceiptHandles` and long
 * polling), delete batch, purge, plus `/healthz`, `/readyz` and `/metrics`. It parses and answers
 * JSON like the broker does, but stores messages in an array and never touches the disk, so a
 * load run against it measures the ceiling of the load generator and the HTTP layer on this
 * machine (a broker's ceiling is measured against a no-op server in the same run).
 *
 * Run it: `deno run -A bench/noop_server.ts --port 0` prints its URL when ready.
 *
 * @module
 */

import type {
  DeleteMessagesResponse,
  HandleFailure,
  Queue,
  ReceivedMessage,
  ReceiveMessagesResponse,
  SendMessageEntry,
  SendMessagesResponse,
} from "../sdk/mod.ts";

/** Entries in one batch, as the broker allows. */
const batchEntriesMax = 256;
/** Longest long poll a receive may ask for. */
const waitSecondsMax = 30;
/** Default lock of a receive, as the broker's queue default. */
const visibilityTimeoutSecondsDefault = 30;
/** The broker's message of a stale handle whose message left the queue. */
const messageGone = "the message of this receipt handle is no longer in the queue (deleted, " +
  "expired, moved or purged)";

/** This server's receipt handles: `<sequence>.<delivery>`, both counted from 1. */
const handlePattern = /^([1-9][0-9]*)\.([1-9][0-9]*)$/;
/** The broker's messages of a handle that does not decode, and of one it never issued. */
const notAReceiptHandle = "not a receipt handle";
const handleUnverified = "receipt handle does not verify";

interface StoredMessage {
  id: string;
  sequence: number;
  body: string;
  enqueuedAt: number;
  firstReceivedAt: number;
  receiveCount: number;
}

interface Delivery {
  message: StoredMessage;
  visibleAt: number;
}

class NoopQueue {
  readonly name: string;
  readonly createdAt: number;
  readonly attributes: Record<string, unknown>;
  /** Visible messages; `head` is the index of the first one (compacted lazily). */
  ready: StoredMessage[] = [];
  head = 0;
  /** Locked deliveries by receipt handle, in the order they were handed out. */
  inflight = new Map<string, Delivery>();
  /**
   * Sequences of the messages in the queue whose lock once ran out: only their old handles name a
   * message still here, so a stale handle of any other message is `gone` (empty on a run whose
   * locks never run out, which then pays nothing for it).
   */
  released = new Set<number>();
  nextSequence = 1;
  deliveries = 0;
  /** Receives parked by a long poll, woken by the next send. */
  waiters: (() => void)[] = [];

  constructor(name: string, attributes: Record<string, unknown>, now: number) {
    this.name = name;
    this.attributes = attributes;
    this.createdAt = now;
  }

  get visibleCount(): number {
    return this.ready.length - this.head;
  }

  /** Puts deliveries whose lock ran out back in line; handed out in order, so stop at the first live one. */
  releaseExpired(now: number): void {
    for (const [handle, delivery] of this.inflight) {
      if (delivery.visibleAt > now) break;
      this.inflight.delete(handle);
      this.released.add(delivery.message.sequence);
      this.ready.push(delivery.message);
    }
  }

  take(count: number, lockMs: number, now: number): ReceivedMessage[] {
    this.releaseExpired(now);
    const taken: ReceivedMessage[] = [];
    while (taken.length < count && this.head < this.ready.length) {
      const message = this.ready[this.head++];
      message.receiveCount++;
      if (message.firstReceivedAt === 0) message.firstReceivedAt = now;
      const receiptHandle = `${message.sequence}.${++this.deliveries}`;
      const visibleAt = now + lockMs;
      this.inflight.set(receiptHandle, { message, visibleAt });
      taken.push({ ...message, receiptHandle, visibleAt });
    }
    if (this.head > 1024 && this.head * 2 > this.ready.length) {
      this.ready = this.ready.slice(this.head);
      this.head = 0;
    }
    return taken;
  }

  remove(handles: string[]): { deleted: number; failures: HandleFailure[] } {
    let deleted = 0;
    const failures: HandleFailure[] = [];
    for (const receiptHandle of handles) {
      const removed = this.released.size === 0
        ? this.inflight.delete(receiptHandle)
        : this.#removeReleased(receiptHandle);
      if (removed) deleted++;
      else failures.push(this.#failureOf(receiptHandle));
    }
    return { deleted, failures };
  }

  /** Deletes a delivery in flight, and its message from `released`. */
  #removeReleased(receiptHandle: string): boolean {
    const delivery = this.inflight.get(receiptHandle);
    if (delivery === undefined) return false;
    this.inflight.delete(receiptHandle);
    this.released.delete(delivery.message.sequence);
    return true;
  }

  /**
   * The failure of a handle not in flight, as the broker answers it: `ReceiptHandleInvalid` when
   * it is not `<sequence>.<delivery>` of this server's own handles, or names a sequence or a
   * delivery not handed out yet (the broker's tag and end-of-queue checks; a handle pairing a
   * handed-out sequence with another message's delivery passes here, where the broker's tag
   * would refuse it). Else `gone` when its message left the queue (deleted or purged), plain
   * stale when it is still here (its lock ran out). Only failing handles come here.
   */
  #failureOf(receiptHandle: string): HandleFailure {
    const parts = handlePattern.exec(receiptHandle);
    if (parts === null) {
      return { receiptHandle, code: "ReceiptHandleInvalid", message: notAReceiptHandle };
    }
    const sequence = Number(parts[1]);
    const delivery = Number(parts[2]);
    if (
      !Number.isSafeInteger(sequence) || !Number.isSafeInteger(delivery) ||
      sequence >= this.nextSequence || delivery > this.deliveries
    ) {
      return { receiptHandle, code: "ReceiptHandleInvalid", message: handleUnverified };
    }
    if (!this.released.has(sequence)) {
      return { receiptHandle, code: "ReceiptHandleStale", message: messageGone, gone: true };
    }
    return { receiptHandle, code: "ReceiptHandleStale", message: "no such delivery in flight" };
  }

  describe(): Queue {
    return {
      visibilityTimeoutSeconds: visibilityTimeoutSecondsDefault,
      pollingWaitSeconds: 0,
      maxMessageBytes: 65_536,
      retentionSeconds: 345_600,
      rewindSeconds: 0,
      maxBacklog: 100_000_000,
      fifo: false,
      ...this.attributes,
      name: this.name,
      createdAt: this.createdAt,
      modifiedAt: this.createdAt,
      activeMessages: this.visibleCount,
      inflightMessages: this.inflight.size,
      delayedMessages: 0,
      rewindableMessages: 0,
      oldestMessageAt: this.visibleCount > 0 ? this.ready[this.head].enqueuedAt : null,
    };
  }

  wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

function errorResponse(status: number, code: string, message: string): Response {
  return Response.json({ error: { code, message, requestId: "noop" } }, { status });
}

function queueMissing(name: string): Response {
  return errorResponse(404, "QueueNotFound", `queue '${name}' does not exist`);
}

async function readJson(request: Request): Promise<Record<string, unknown> | null> {
  const text = await request.text();
  if (text === "") return {};
  try {
    const value = JSON.parse(text);
    return typeof value === "object" && value !== null ? value : null;
  } catch {
    return null;
  }
}

function waitForSend(queue: NoopQueue, waitMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, waitMs);
    queue.waiters.push(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** The state and request handler of one no-op server. */
export class NoopBroker {
  #queues = new Map<string, NoopQueue>();

  /** Answers one request; pass it to `Deno.serve` or call it directly in tests. */
  handle = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    const parts = url.pathname.split("/").filter((part) => part !== "");
    if (parts[0] === "v1" && parts[1] === "queues" && parts.length >= 3) {
      return await this.#routeQueue(request, decodeURIComponent(parts[2]), parts.slice(3));
    }
    if (url.pathname === "/healthz" || url.pathname === "/readyz") return new Response("ok");
    if (url.pathname === "/metrics") {
      return new Response(`process_resident_memory_bytes ${Deno.memoryUsage().rss}\n`);
    }
    return errorResponse(404, "NotFound", `no route for ${request.method} ${url.pathname}`);
  };

  async #routeQueue(request: Request, name: string, rest: string[]): Promise<Response> {
    const route = `${request.method} ${rest.join("/")}`;
    if (route === "PUT ") return await this.#createQueue(request, name);
    const queue = this.#queues.get(name);
    if (queue === undefined) return queueMissing(name);
    switch (route) {
      case "GET ":
        return Response.json(queue.describe());
      case "DELETE ":
        this.#queues.delete(name);
        queue.wake();
        return new Response(null, { status: 204 });
      case "POST messages":
        return await this.#send(request, queue);
      case "POST messages/receive":
        return await this.#receive(request, queue);
      case "POST messages/delete":
        return await this.#delete(request, queue);
      case "POST purge": {
        const purged = queue.visibleCount + queue.inflight.size;
        queue.ready = [];
        queue.head = 0;
        queue.inflight.clear();
        queue.released.clear();
        return Response.json({ purged });
      }
    }
    return errorResponse(405, "MethodNotAllowed", `no route for ${route}`);
  }

  async #createQueue(request: Request, name: string): Promise<Response> {
    const attributes = await readJson(request);
    if (attributes === null) return errorResponse(400, "MalformedRequest", "body is not JSON");
    const existing = this.#queues.get(name);
    if (existing !== undefined) return Response.json(existing.describe());
    const queue = new NoopQueue(name, attributes, Date.now());
    this.#queues.set(name, queue);
    return Response.json(queue.describe(), { status: 201 });
  }

  async #send(request: Request, queue: NoopQueue): Promise<Response> {
    const body = await readJson(request);
    const entries = body?.messages;
    if (!Array.isArray(entries) || entries.length === 0 || entries.length > batchEntriesMax) {
      return errorResponse(400, "InvalidParameter", "messages must hold 1-256 entries");
    }
    const now = Date.now();
    const sent: SendMessagesResponse = { messages: [] };
    for (const entry of entries as SendMessageEntry[]) {
      if (typeof entry?.body !== "string") {
        return errorResponse(400, "InvalidParameter", "every message needs a string body");
      }
    }
    for (const entry of entries as SendMessageEntry[]) {
      const sequence = queue.nextSequence++;
      const id = String(sequence);
      queue.ready.push({
        id,
        sequence,
        body: entry.body,
        enqueuedAt: now,
        firstReceivedAt: 0,
        receiveCount: 0,
      });
      sent.messages.push({ id, sequence });
    }
    queue.wake();
    return Response.json(sent);
  }

  async #receive(request: Request, queue: NoopQueue): Promise<Response> {
    const body = await readJson(request);
    if (body === null) return errorResponse(400, "MalformedRequest", "body is not JSON");
    const count = Math.min(Number(body.maxMessages ?? 1) || 1, batchEntriesMax);
    const lockSeconds = Number(body.visibilityTimeoutSeconds ?? visibilityTimeoutSecondsDefault);
    const waitSeconds = Math.min(Number(body.waitSeconds ?? 0) || 0, waitSecondsMax);
    const response: ReceiveMessagesResponse = { messages: [] };
    if (Array.isArray(body.deleteReceiptHandles)) {
      const { deleted, failures } = queue.remove(body.deleteReceiptHandles as string[]);
      response.deleted = deleted;
      response.failures = failures;
    }
    const deadline = Date.now() + waitSeconds * 1000;
    response.messages = queue.take(count, lockSeconds * 1000, Date.now());
    while (response.messages.length === 0 && Date.now() < deadline) {
      await waitForSend(queue, deadline - Date.now());
      if (this.#queues.get(queue.name) !== queue) break;
      response.messages = queue.take(count, lockSeconds * 1000, Date.now());
    }
    return Response.json(response);
  }

  async #delete(request: Request, queue: NoopQueue): Promise<Response> {
    const body = await readJson(request);
    if (!Array.isArray(body?.receiptHandles)) {
      return errorResponse(400, "InvalidParameter", "receiptHandles must be a list");
    }
    const result: DeleteMessagesResponse = queue.remove(body.receiptHandles as string[]);
    return Response.json(result);
  }
}

/** Options of `startNoopServer`. */
export interface NoopServerOptions {
  /** 0 picks a free port. */
  port?: number;
  hostname?: string;
}

/** A running no-op server. */
export interface NoopServer {
  url: string;
  shutdown(): Promise<void>;
}

/**
 * Starts a no-op server in this process.
 *
 * @example
 * ```ts
 * const server = await startNoopServer({ port: 0 });
 * console.log(server.url); // http://127.0.0.1:PORT
 * await server.shutdown();
 * ```
 */
export function startNoopServer(options: NoopServerOptions = {}): Promise<NoopServer> {
  const broker = new NoopBroker();
  const hostname = options.hostname ?? "127.0.0.1";
  return new Promise((resolve) => {
    const server = Deno.serve({
      hostname,
      port: options.port ?? 0,
      onListen: ({ port }) => {
        resolve({ url: `http://${hostname}:${port}`, shutdown: () => server.shutdown() });
      },
    }, broker.handle);
  });
}

if (import.meta.main) {
  const portIndex = Deno.args.indexOf("--port");
  const port = portIndex >= 0 ? Number(Deno.args[portIndex + 1]) : 0;
  const server = await startNoopServer({ port });
  console.log(server.url);
}
