/**
 * Test-only: an in-memory queue behind the `ConsumerClient` interface, with the broker's rules
 * that the consumer relies on — locks on the real clock, one receipt handle per delivery (older
 * ones are stale; any of a deleted message is stale and `gone`), deletes carried by a receive
 * applied first, long polls that wait for a message, and on `fifo` queues one message in flight
 * per group, head of the group first. `consumerOn` builds a `Consumer` on such a client that
 * records its `onError` calls. `FakeSender` is a `ProducerClient` whose batch requests wait until the
 * test answers them.
 *
 * @module
 */
import { Consumer, type ConsumerOptions } from "./consumer.ts";
import type { ConsumerClient } from "./consumer_acks.ts";
import { type Deferred, deferred } from "./_test_helpers.ts";
import { CmqdError } from "./errors.ts";
import type { ProducerClient } from "./producer.ts";
import type {
  ChangeVisibilityResponse,
  DeleteMessagesResponse,
  HandleFailure,
  ReceivedMessage,
  ReceiveMessagesRequest,
  ReceiveMessagesResponse,
  SendMessageEntry,
  SendMessagesResponse,
  VisibilityEntry,
} from "./protocol.ts";
import { sleep } from "./retry.ts";

interface StoredMessage {
  id: string;
  sequence: number;
  body: string;
  groupId?: string;
  enqueuedAt: number;
  firstReceivedAt: number;
  receiveCount: number;
  visibleAt: number;
  deleted: boolean;
}

/** One call the fake answered, for assertions. */
export type FakeCall =
  | { kind: "receive"; request: ReceiveMessagesRequest; atMs: number }
  | { kind: "delete"; handles: string[] }
  | { kind: "visibility"; entries: VisibilityEntry[] };

/** An in-memory queue (see the module doc). */
export class FakeQueue implements ConsumerClient {
  readonly fifo: boolean;
  readonly calls: FakeCall[] = [];
  /** Every delivery, in order: `body#receiveCount`. */
  readonly deliveries: string[] = [];
  /** Errors the next receives throw, first to last. */
  readonly receiveFailures: unknown[] = [];
  #messages: StoredMessage[] = [];

  constructor(options: { fifo?: boolean } = {}) {
    this.fifo = options.fifo ?? false;
  }

  /** Enqueues messages, visible at once. */
  send(...bodies: (string | { body: string; groupId?: string })[]): void {
    for (const item of bodies) {
      const entry = typeof item === "string" ? { body: item } : item;
      const sequence = this.#messages.length + 1;
      this.#messages.push({
        id: `m${sequence}`,
        sequence,
        body: entry.body,
        groupId: entry.groupId,
        enqueuedAt: Date.now(),
        firstReceivedAt: 0,
        receiveCount: 0,
        visibleAt: 0,
        deleted: false,
      });
    }
  }

  /** Messages not deleted. */
  get remaining(): number {
    return this.#messages.filter((message) => !message.deleted).length;
  }

  /** The calls of one kind. */
  callsOf<K extends FakeCall["kind"]>(kind: K): Extract<FakeCall, { kind: K }>[] {
    return this.calls.filter((call) => call.kind === kind) as Extract<FakeCall, { kind: K }>[];
  }

  async receiveMessages(
    _queue: string,
    request: ReceiveMessagesRequest = {},
    options: { signal?: AbortSignal } = {},
  ): Promise<ReceiveMessagesResponse> {
    this.calls.push({ kind: "receive", request, atMs: Date.now() });
    const failure = this.receiveFailures.shift();
    if (failure !== undefined) throw failure;
    const deletion = request.deleteReceiptHandles === undefined
      ? undefined
      : this.#delete(request.deleteReceiptHandles);
    const deadline = Date.now() + (request.waitSeconds ?? 0) * 1000;
    for (;;) {
      const messages = this.#take(request);
      if (messages.length > 0 || Date.now() >= deadline) return { messages, ...deletion };
      await sleep(2, options.signal);
      if (options.signal?.aborted) {
        throw new CmqdError("Aborted", "the call was aborted", { status: 0 });
      }
    }
  }

  deleteMessages(_queue: string, handles: string[]): Promise<DeleteMessagesResponse> {
    this.calls.push({ kind: "delete", handles });
    return Promise.resolve(this.#delete(handles));
  }

  changeVisibility(_queue: string, entries: VisibilityEntry[]): Promise<ChangeVisibilityResponse> {
    this.calls.push({ kind: "visibility", entries });
    const now = Date.now();
    const answer: ChangeVisibilityResponse = { entries: [], failures: [] };
    for (const entry of entries) {
      const found = this.#byHandle(entry.receiptHandle);
      if ("code" in found) answer.failures.push(found);
      else if (found.visibleAt <= now) {
        answer.failures.push({
          receiptHandle: entry.receiptHandle,
          code: "MessageNotInflight",
          message: "the lock already ended",
        });
      } else {
        found.visibleAt = now + entry.visibilityTimeoutSeconds * 1000;
        answer.entries.push({ receiptHandle: entry.receiptHandle, visibleAt: found.visibleAt });
      }
    }
    return Promise.resolve(answer);
  }

  #delete(handles: string[]): DeleteMessagesResponse {
    const failures: HandleFailure[] = [];
    let deleted = 0;
    for (const handle of handles) {
      const found = this.#byHandle(handle);
      if ("code" in found) failures.push(found);
      else {
        found.deleted = true;
        deleted++;
      }
    }
    return { deleted, failures };
  }

  #byHandle(handle: string): StoredMessage | HandleFailure {
    const [id, delivery] = handle.split("#");
    const message = this.#messages.find((candidate) => candidate.id === id);
    if (message === undefined) {
      return { receiptHandle: handle, code: "ReceiptHandleInvalid", message: "unknown handle" };
    }
    if (message.deleted) {
      return { receiptHandle: handle, code: "ReceiptHandleStale", message: "gone", gone: true };
    }
    if (Number(delivery) !== message.receiveCount) {
      return { receiptHandle: handle, code: "ReceiptHandleStale", message: "stale handle" };
    }
    return message;
  }

  #take(request: ReceiveMessagesRequest): ReceivedMessage[] {
    const now = Date.now();
    const lockMs = (request.visibilityTimeoutSeconds ?? 30) * 1000;
    const taken: ReceivedMessage[] = [];
    const blockedGroups = new Set<string>();
    for (const message of this.#messages) {
      if (taken.length >= (request.maxMessages ?? 1) || message.deleted) continue;
      const group = message.groupId ?? "";
      if (this.fifo && blockedGroups.has(group)) continue;
      // On a fifo queue the group's head blocks the rest whether it is locked or handed out now.
      if (this.fifo) blockedGroups.add(group);
      if (message.visibleAt > now) continue;
      message.receiveCount++;
      if (message.receiveCount === 1) message.firstReceivedAt = now;
      message.visibleAt = now + lockMs;
      this.deliveries.push(`${message.body}#${message.receiveCount}`);
      taken.push(this.#received(message));
    }
    return taken;
  }

  #received(message: StoredMessage): ReceivedMessage {
    return {
      id: message.id,
      sequence: message.sequence,
      body: message.body,
      receiptHandle: `${message.id}#${message.receiveCount}`,
      enqueuedAt: message.enqueuedAt,
      firstReceivedAt: message.firstReceivedAt,
      receiveCount: message.receiveCount,
      visibleAt: message.visibleAt,
      ...(message.groupId === undefined ? {} : { groupId: message.groupId }),
    };
  }
}

/** One lock-change call a client made: the receipt handles it carried and the signal it was given. */
export interface LockChangeCall {
  handles: string[];
  signal?: AbortSignal;
}

/**
 * A client of `queue` whose first lock change never answers (it reached a node that accepted
 * it and says nothing, whatever its signal does) and whose later ones are answered by `queue`.
 * `calls` records each lock-change call as made.
 */
export function firstLockChangeHangs(queue: FakeQueue) {
  const calls: LockChangeCall[] = [];
  const client: ConsumerClient = {
    receiveMessages: queue.receiveMessages.bind(queue),
    deleteMessages: queue.deleteMessages.bind(queue),
    changeVisibility: (name, entries, options) => {
      calls.push({ handles: entries.map((entry) => entry.receiptHandle), signal: options?.signal });
      if (calls.length === 1) return new Promise(() => {});
      return queue.changeVisibility(name, entries);
    },
  };
  return { client, calls };
}

/**
 * A client of `queue` whose first `count` lock changes never answer, whatever their signal does:
 * with `applied`, `queue` applies them all the same (the node did its work, the answer is what
 * got lost), else not at all. Later ones are answered by `queue`. `calls` records each call;
 * `onWireMax()` is the most calls that were at once neither answered nor aborted.
 */
export function lockChangesUnanswered(queue: FakeQueue, count: number, applied: boolean) {
  const calls: LockChangeCall[] = [];
  const open = new Set<LockChangeCall>();
  let onWireMax = 0;
  const client: ConsumerClient = {
    receiveMessages: queue.receiveMessages.bind(queue),
    deleteMessages: queue.deleteMessages.bind(queue),
    changeVisibility: async (name, entries, options) => {
      const call = {
        handles: entries.map((entry) => entry.receiptHandle),
        signal: options?.signal,
      };
      calls.push(call);
      open.add(call);
      options?.signal?.addEventListener("abort", () => open.delete(call), { once: true });
      onWireMax = Math.max(onWireMax, open.size);
      if (calls.length <= count) {
        if (applied) await queue.changeVisibility(name, entries);
        return new Promise<never>(() => {});
      }
      try {
        return await queue.changeVisibility(name, entries);
      } finally {
        open.delete(call);
      }
    },
  };
  return { client, calls, onWireMax: () => onWireMax };
}

/** A consumer on `queue` that records every onError call; stopped by the test. */
export function consumerOn(queue: ConsumerClient, options: ConsumerOptions) {
  const errors: { error: unknown; message?: ReceivedMessage }[] = [];
  const consumer = new Consumer(queue, "q", {
    waitSeconds: 1,
    onError: (error, message) => errors.push({ error, message }),
    ...options,
  });
  return { consumer, errors };
}

/** One batch request a `FakeSender` was given, answered when the test says. */
export interface SendCall {
  entries: SendMessageEntry[];
  answer: Deferred<SendMessagesResponse>;
}

/** A producer's client whose batch requests wait until the test answers them. */
export class FakeSender implements ProducerClient {
  calls: SendCall[] = [];
  #sequence = 0;

  sendMessages(_queue: string, entries: SendMessageEntry[]): Promise<SendMessagesResponse> {
    const answer = deferred<SendMessagesResponse>();
    this.calls.push({ entries, answer });
    return answer.promise;
  }

  /** Acknowledges call `index`: ids are `id-<body>`. */
  acknowledge(index: number): void {
    const call = this.calls[index];
    call.answer.resolve({
      messages: call.entries.map((entry) => ({
        id: `id-${entry.body}`,
        sequence: ++this.#sequence,
      })),
    });
  }

  bodies(index: number): string[] {
    return this.calls[index].entries.map((entry) => entry.body);
  }
}
