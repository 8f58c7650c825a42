/**
 * `Producer`: many concurrent `send()` calls become few `sendMessages` batch requests.
 *
 * A send joins the queue of pending sends; a batch leaves when it holds `batchSize` messages
 * (or `batchBytesMax` of bodies, attributes and ids, counted as the request carries them:
 * JSON-encoded), when the first of its messages has waited `lingerMs`, or at
 * `flush()`. At most `inflightBatchesMax` batches are on the wire at once, and at most
 * `pendingSendsMax` sends are accepted and unanswered: past that, `send` waits for room
 * (back-pressure, first come first served). Each send resolves with its `{id, sequence}` once
 * the broker acknowledged the batch — the broker answers after the Raft commit, so that is
 * durable — or rejects with the batch's `CmqdError`.
 *
 * Ordering: messages of one `groupId` (and, with `fifo: true`, messages without one, which a
 * FIFO queue treats as one queue-wide group) leave in send order, inside a batch and across
 * batches: a batch never carries a message whose group still has a batch on the wire. When a
 * send of a group fails (its batch rejected, its retries used up, aborted on the wire, or the
 * message named as bad), the group's sends made before that and not yet sent are not sent: each
 * rejects with `EarlierSendFailed` (its `cause` the failed send's error), so sending again from
 * the failed one, in order, keeps the order; sends made after the failure go out as usual
 * (`producer_groups.ts`).
 *
 * Retries: the client retries a batch on its own when that is safe (a 503 saying nothing was
 * done always; a lost answer, or a 503 whose outcome is unknown, only when every message carries
 * a `dedupId`). `autoDedupId: true` gives every message without
 * one a random `dedupId` when it is sent, so a batch whose answer was lost is retried without
 * enqueueing anything twice.
 *
 * A bad message (`InvalidParameter` or `MessageTooLarge` naming `messages.N`) fails only its own
 * send (and, as above, those of its group behind it); the rest of the batch is sent again
 * without them.
 *
 * @module
 */
import type { CmqdClient } from "./client.ts";
import { badEntryIndex } from "./bad_entry.ts";
import { CmqdError } from "./errors.ts";
import type { SendMessageEntry, SentMessage } from "./protocol.ts";
import { checkBoolean } from "./option_checks.ts";
import {
  exactBytes,
  mostBytes,
  requestBytesMax,
  requestEnvelopeBytes,
  type Weighed,
} from "./producer_bytes.ts";
import { earlierSendFailed, GroupBreaks } from "./producer_groups.ts";
import { checkProducerOptions, type ProducerOptions } from "./producer_options.ts";
import { randomUuid } from "./uuid.ts";

export type { ProducerOptions } from "./producer_options.ts";

/** What the producer needs of a client (tests pass a fake). */
export type ProducerClient = Pick<CmqdClient, "sendMessages">;

/** Options of one `send`. */
export interface SendOptions {
  /**
   * Gives up waiting: a send still queued is withdrawn; a send already on the wire rejects at
   * once, but its message may still be enqueued (use a `dedupId` to retry it safely). A withdrawn
   * send holds back nothing; if the batch of one aborted on the wire then fails, its group's
   * later sends reject with `EarlierSendFailed` all the same.
   */
  signal?: AbortSignal;
}

/** Counters of a producer. */
export interface ProducerStats {
  /** Sends resolved with an id. */
  sent: number;
  /** Sends rejected (batch failures, aborts, closed). */
  failed: number;
  /** Batch requests sent. */
  batches: number;
  /** Accepted and not yet answered. */
  pendingSends: number;
  inflightBatches: number;
}

/** A send not yet settled; `waiters` are flushes waiting for it. */
interface Unsettled {
  waiters: (() => void)[] | undefined;
}

interface PendingSend extends Weighed {
  /** The ordering key, undefined when the message needs no order. */
  group: string | undefined;
  settled: boolean;
  resolve(sent: SentMessage): void;
  reject(error: unknown): void;
}

/**
 * Coalesces concurrent sends to one queue into batch requests.
 *
 * @example
 * ```ts
 * const producer = new Producer(client, "images", { batchSize: 16, lingerMs: 2, autoDedupId: true });
 * const sent = await Promise.all(photos.map((photo) => producer.send({ body: photo.name })));
 * await producer.close(); // flushes, then refuses new sends
 * ```
 */
export class Producer {
  readonly #client: ProducerClient;
  readonly #queue: string;
  readonly #batchSize: number;
  readonly #batchBytesMax: number;
  readonly #lingerMs: number;
  readonly #pendingSendsMax: number;
  readonly #inflightBatchesMax: number;
  readonly #autoDedupId: boolean;
  readonly #fifo: boolean;
  /** Accepted, not yet in a batch, in send order. */
  #queued: PendingSend[] = [];
  /** Accepted and not answered by a batch: queued + on the wire (+ slots handed to waiters). */
  #pendingSends = 0;
  /** Sends waiting for room, first come first served; each is handed a slot. */
  #roomWaiters: (() => void)[] = [];
  #inflightBatches = 0;
  /** Group → batches on the wire that hold one of its messages. */
  #busyGroups = new Map<string, number>();
  /** Sends made so far: each send's number, in send order. */
  #sendsMade = 0;
  /** Groups that broke while sends of them waited for room (`producer_groups.ts`). */
  readonly #groupBreaks: GroupBreaks;
  #lingerTimer: ReturnType<typeof setTimeout> | undefined;
  /** The oldest queued send has waited its linger: send partial batches. */
  #lingerDue = false;
  #flushes = 0;
  #pumpQueued = false;
  /** Every send not yet settled (what `flush` waits for); no promise per send unless flushed. */
  #unsettled = new Set<Unsettled>();
  #closed = false;
  #closing: Promise<void> | undefined;
  #sent = 0;
  #failed = 0;
  #batches = 0;

  constructor(client: ProducerClient, queue: string, options: ProducerOptions = {}) {
    this.#client = client;
    this.#queue = queue;
    const checked = checkProducerOptions(options);
    this.#batchSize = checked.batchSize;
    this.#batchBytesMax = Math.min(checked.batchBytesMax, requestBytesMax - requestEnvelopeBytes);
    this.#lingerMs = checked.lingerMs;
    this.#pendingSendsMax = checked.pendingSendsMax;
    this.#inflightBatchesMax = checked.inflightBatchesMax;
    this.#autoDedupId = checkBoolean("autoDedupId", options.autoDedupId, false);
    this.#fifo = checkBoolean("fifo", options.fifo, false);
    this.#groupBreaks = new GroupBreaks(queue);
  }

  /** The queue this producer sends to. */
  get queue(): string {
    return this.#queue;
  }

  /** True after `close()`. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Counters and gauges. */
  get stats(): ProducerStats {
    return {
      sent: this.#sent,
      failed: this.#failed,
      batches: this.#batches,
      pendingSends: this.#pendingSends,
      inflightBatches: this.#inflightBatches,
    };
  }

  /**
   * Sends one message (a string is its body); resolves once the broker acknowledged it. Waits
   * while `pendingSendsMax` sends are pending. Rejects with `ProducerClosed` after `close()`,
   * and with `InvalidParameter` (field `body`) at once when the body is not a string; with
   * `EarlierSendFailed`, unsent, when an earlier send of its group failed first.
   */
  send(message: SendMessageEntry | string, options: SendOptions = {}): Promise<SentMessage> {
    try {
      return this.#send(message, options);
    } catch (error) {
      // Whatever throws here (a getter of the caller's message, say) rejects, never throws.
      this.#failed++;
      return Promise.reject(error);
    }
  }

  #send(message: SendMessageEntry | string, options: SendOptions): Promise<SentMessage> {
    if (this.#closed) {
      this.#failed++;
      return Promise.reject(
        new CmqdError("ProducerClosed", `the producer of '${this.#queue}' is closed`, {
          status: 0,
        }),
      );
    }
    const entry: SendMessageEntry = typeof message === "string"
      ? { body: message }
      : { ...message };
    if (typeof entry.body !== "string") {
      // From JavaScript (say `JSON.stringify(undefined)`): refused here, alone; counted as a
      // batch it would throw where no caller can catch it.
      this.#failed++;
      return Promise.reject(
        new CmqdError("InvalidParameter", `body must be a string, got ${typeof entry.body}`, {
          status: 0,
          field: "body",
        }),
      );
    }
    if (this.#autoDedupId && entry.dedupId === undefined) entry.dedupId = randomUuid();
    const unsettled: Unsettled = { waiters: undefined };
    this.#unsettled.add(unsettled);
    const done = () => {
      this.#unsettled.delete(unsettled);
      for (const waiter of unsettled.waiters ?? []) waiter();
    };
    const group = entry.groupId ?? (this.#fifo ? "" : undefined);
    try {
      return this.#admit(entry, group, ++this.#sendsMade, options.signal, done);
    } catch (error) {
      done();
      throw error;
    }
  }

  /** Sends every pending message now and waits until each send made before it settled. */
  async flush(): Promise<void> {
    const waiting = [...this.#unsettled].map((unsettled) =>
      new Promise<void>((resolve) => (unsettled.waiters ??= []).push(resolve))
    );
    this.#flushes++;
    try {
      this.#pump();
      await Promise.all(waiting);
    } finally {
      this.#flushes--;
    }
  }

  /** Refuses new sends (`ProducerClosed`) and flushes the pending ones. Idempotent. */
  close(): Promise<void> {
    this.#closed = true;
    this.#closing ??= this.flush();
    return this.#closing;
  }

  /** Takes a slot (or waits for one) and queues the send; `done` runs once it has settled. */
  #admit(
    entry: SendMessageEntry,
    group: string | undefined,
    number: number,
    signal: AbortSignal | undefined,
    done: () => void,
  ): Promise<SentMessage> {
    if (signal?.aborted) {
      this.#failed++;
      done();
      return Promise.reject(this.#aborted(signal));
    }
    if (this.#pendingSends < this.#pendingSendsMax && this.#roomWaiters.length === 0) {
      this.#pendingSends++;
      return this.#enqueue(entry, group, undefined, signal, done);
    }
    this.#groupBreaks.wait(group);
    return this.#waitForRoom(signal).then(
      () => this.#enqueue(entry, group, this.#groupBreaks.leave(group, number), signal, done),
      (error) => {
        this.#groupBreaks.leave(group, number);
        this.#failed++;
        done();
        throw error;
      },
    );
  }

  /** Queues a send that has its slot; `refused`: its group broke while it waited for room. */
  #enqueue(
    entry: SendMessageEntry,
    group: string | undefined,
    refused: CmqdError | undefined,
    signal: AbortSignal | undefined,
    done: () => void,
  ): Promise<SentMessage> {
    if (signal?.aborted || refused !== undefined) {
      // Aborted after a slot was handed to it, before it was queued: withdrawn all the same
      // (its abort listener is gone, and one added now would never fire).
      this.#releaseSlots(1);
      this.#failed++;
      done();
      return Promise.reject(signal?.aborted ? this.#aborted(signal) : refused);
    }
    return new Promise<SentMessage>((resolve, reject) => {
      const pending: PendingSend = {
        entry,
        group,
        bytes: undefined,
        mostBytes: undefined,
        settled: false,
        resolve: (sent) => settle(() => resolve(sent)),
        reject: (error) => settle(() => reject(error)),
      };
      const onAbort = () => this.#abandon(pending, signal!);
      const settle = (finish: () => void) => {
        if (pending.settled) return;
        pending.settled = true;
        signal?.removeEventListener("abort", onAbort);
        finish();
        done();
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#queued.push(pending);
      this.#schedule();
    });
  }

  /** Waits until a finishing batch hands this send a slot; the slot is counted already. */
  #waitForRoom(signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      const granted = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        const index = this.#roomWaiters.indexOf(granted);
        if (index >= 0) this.#roomWaiters.splice(index, 1);
        reject(this.#aborted(signal!));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#roomWaiters.push(granted);
    });
  }

  /** A send's signal aborted: withdraw it if still queued, else just stop waiting for it. */
  #abandon(pending: PendingSend, signal: AbortSignal): void {
    const index = this.#queued.indexOf(pending);
    if (index >= 0) {
      this.#queued.splice(index, 1);
      this.#releaseSlots(1);
    }
    this.#failed++;
    pending.reject(this.#aborted(signal));
  }

  #releaseSlots(count: number): void {
    for (let i = 0; i < count; i++) {
      const waiter = this.#roomWaiters.shift();
      if (waiter === undefined) this.#pendingSends--;
      else waiter(); // The slot passes to the waiter as it is.
    }
  }

  #schedule(): void {
    if (this.#queued.length >= this.#batchSize || this.#lingerDue || this.#flushes > 0) {
      this.#pumpSoon();
    } else {
      this.#armLinger();
    }
  }

  /** Pumps after the current microtasks: sends handed a slot together join one batch. */
  #pumpSoon(): void {
    if (this.#pumpQueued) return;
    this.#pumpQueued = true;
    queueMicrotask(() => {
      this.#pumpQueued = false;
      this.#pump();
    });
  }

  #armLinger(): void {
    if (this.#lingerTimer !== undefined) return;
    this.#lingerTimer = setTimeout(() => {
      this.#lingerTimer = undefined;
      this.#lingerDue = true;
      this.#pump();
    }, this.#lingerMs);
  }

  /** Sends batches while there is room on the wire and something ready to go. */
  #pump(): void {
    while (this.#inflightBatches < this.#inflightBatchesMax && this.#queued.length > 0) {
      const ready = this.#queued.length >= this.#batchSize || this.#lingerDue || this.#flushes > 0;
      if (!ready) break;
      const batch = this.#takeBatch();
      if (batch.length === 0) break; // Every queued message waits for its group.
      this.#dispatch(batch);
    }
    if (this.#queued.length === 0) {
      this.#lingerDue = false;
      clearTimeout(this.#lingerTimer);
      this.#lingerTimer = undefined;
    } else if (!this.#lingerDue) {
      this.#armLinger();
    }
  }

  /**
   * The next batch in send order, skipping messages whose group has a batch on the wire (and a
   * message too big for the batch's byte budget, which a later, smaller one may pass). The scan
   * stops once the batch is full, so taking a batch costs its size, not the queue's length.
   */
  #takeBatch(): PendingSend[] {
    const queued = this.#queued;
    const batch: PendingSend[] = [];
    const taken: number[] = [];
    // Groups with a message left behind in this scan: their later messages stay behind too.
    const skipped = new Set<string>();
    // Strings are not counted while six bytes per code unit (the most one can take, escaped as
    // `\u0001`) still fit the budget; once they may not, the batch's real bytes are counted (as
    // JSON carries them) and kept from then on.
    let bytes = 0;
    let exact = false;
    for (let index = 0; index < queued.length && batch.length < this.#batchSize; index++) {
      const pending = queued[index];
      const group = pending.group;
      let blocked = group !== undefined && (this.#busyGroups.has(group) || skipped.has(group));
      let size = exact ? exactBytes(pending) : mostBytes(pending);
      if (!blocked && batch.length > 0 && bytes + size > this.#batchBytesMax) {
        if (!exact) {
          exact = true;
          bytes = batch.reduce((sum, taken) => sum + exactBytes(taken), 0);
          size = exactBytes(pending);
        }
        blocked = bytes + size > this.#batchBytesMax;
      }
      if (blocked) {
        if (group !== undefined) skipped.add(group);
        continue;
      }
      batch.push(pending);
      taken.push(index);
      bytes += size;
    }
    if (taken.length > 0 && taken[taken.length - 1] === taken.length - 1) {
      queued.splice(0, taken.length); // the usual case: the oldest messages, in a row
    } else if (taken.length > 0) {
      const chosen = new Set(taken);
      this.#queued = queued.filter((_, index) => !chosen.has(index));
    }
    return batch;
  }

  #dispatch(batch: PendingSend[]): void {
    this.#inflightBatches++;
    this.#batches++;
    const groups = new Set<string>();
    for (const pending of batch) if (pending.group !== undefined) groups.add(pending.group);
    for (const group of groups) this.#busyGroups.set(group, (this.#busyGroups.get(group) ?? 0) + 1);
    this.#sendBatch(batch).finally(() => {
      this.#inflightBatches--;
      for (const group of groups) {
        const count = this.#busyGroups.get(group)! - 1;
        if (count === 0) this.#busyGroups.delete(group);
        else this.#busyGroups.set(group, count);
      }
      this.#releaseSlots(batch.length);
      this.#pump();
    });
  }

  /** Sends a batch; a message the broker names as bad is dropped and the rest sent again. */
  async #sendBatch(batch: PendingSend[]): Promise<void> {
    let entries = batch;
    while (entries.length > 0) {
      try {
        const response = await this.#client.sendMessages(
          this.#queue,
          entries.map((pending) => pending.entry),
        );
        this.#settleSent(entries, response);
        return;
      } catch (error) {
        const index = badEntryIndex(error, entries.length, "messages");
        if (index === undefined || entries.length === 1) {
          this.#fail(entries, error);
          return;
        }
        // The bad one fails alone, with the messages of its group behind it in the batch.
        const bad = entries[index];
        const behind = bad.group === undefined
          ? []
          : entries.filter((pending, position) => position > index && pending.group === bad.group);
        this.#fail([bad], error, behind);
        entries = entries.filter((pending, position) =>
          position !== index && !behind.includes(pending)
        );
      }
    }
  }

  #settleSent(entries: PendingSend[], response: unknown): void {
    // An answer of another shape rejects as such, not as a TypeError reading it.
    const sent = (response as { messages?: SentMessage[] } | null)?.messages;
    if (!Array.isArray(sent) || sent.length !== entries.length) {
      const error = new CmqdError(
        "UnexpectedResponse",
        Array.isArray(sent)
          ? `sent ${entries.length} messages, the broker answered ${sent.length} ids`
          : "HTTP 200 to a send of another shape: 'messages' is not a list",
        { status: 200 },
      );
      this.#fail(entries, error);
      return;
    }
    entries.forEach((pending, index) => {
      if (pending.settled) return;
      this.#sent++;
      pending.resolve(sent[index]);
    });
  }

  /**
   * Rejects `entries` (of a failed request) with `error`, and breaks their groups (see
   * `producer_groups.ts`): the sends of each made before now and not yet sent — `behind`, left out
   * of the batch, then the queued ones, then those waiting for room — reject with
   * `EarlierSendFailed`, in send order, naming the group's first failed message. Entries already
   * settled (aborted on the wire) break their group all the same.
   */
  #fail(entries: PendingSend[], error: unknown, behind: PendingSend[] = []): void {
    this.#rejectAll(entries, error);
    const failedOf = new Map<string, SendMessageEntry>();
    for (const pending of entries) {
      if (pending.group !== undefined && !failedOf.has(pending.group)) {
        failedOf.set(pending.group, pending.entry);
      }
    }
    if (failedOf.size === 0) return;
    const refuse = (pending: PendingSend) => {
      const group = pending.group!;
      this.#rejectAll(
        [pending],
        earlierSendFailed(this.#queue, group, failedOf.get(group)!, error),
      );
    };
    behind.forEach(refuse);
    const queued = this.#queued.filter((pending) => failedOf.has(pending.group!));
    if (queued.length > 0) {
      this.#queued = this.#queued.filter((pending) => !failedOf.has(pending.group!));
    }
    for (const [group, failed] of failedOf) {
      this.#groupBreaks.broke(group, this.#sendsMade, failed, error);
    }
    this.#releaseSlots(queued.length);
    queued.forEach(refuse);
  }

  #rejectAll(entries: PendingSend[], error: unknown): void {
    for (const pending of entries) {
      if (pending.settled) continue;
      this.#failed++;
      pending.reject(error);
    }
  }

  #aborted(signal: AbortSignal): CmqdError {
    return new CmqdError("Aborted", `a send to '${this.#queue}' was aborted`, {
      status: 0,
      cause: signal.reason,
    });
  }
}
