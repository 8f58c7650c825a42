/**
 * ReceiveRequestAttemptId (FIFO queues): the answers of receives the door remembers, so that a
 * client whose answer was lost (a timeout, a dropped connection) gets the same messages and
 * receipt handles again by retrying with the same id, and no new message is locked for it.
 *
 * An answer is remembered by (queue, the caller's access key id or none, attempt id) for five
 * minutes from the receive (SQS's deduplication interval), in the memory of the node that served
 * the receive: the leader, as the other nodes relay SQS requests to it. Not replicated: a leader
 * change or a restart forgets every id (a retry then receives afresh). Bounded: at most
 * `entriesMax` answers and `bytesMax` bytes of them (about: the UTF-16 size of the bodies,
 * handles and attributes); the oldest go first, and an answer bigger than `bytesMax` alone is
 * not remembered. Receives that got no message are not remembered (they locked nothing: a retry
 * receives afresh).
 *
 * Fair: the answers of one caller key hold at most `callerShare` of either bound (default
 * 80 %), and a key over its share forgets its own oldest first, so that one key receiving with
 * fresh ids (a busy worker pool, a stolen key) can't push the other keys' answers out: their
 * retries would receive afresh, and the messages of a lost answer stay locked until their lock
 * ends. An answer bigger than the key's byte share alone is not remembered. Receives without a
 * key (no credentials) count only to the whole bounds, as before.
 *
 * A remembered set is spent once one of its messages is deleted or has its visibility changed
 * through the door (SQS: a retry works only "if none of the messages have been modified"); a
 * retry of a spent set answers no message until the id expires.
 *
 * Expired answers are dropped on every use, and by a timer armed for the oldest answer's expiry
 * while any is remembered (so an idle door does not hold its answers past their life); `close()`
 * clears it. The default timer is unref'd: it keeps no program alive.
 *
 * @module
 */
import type { JsonObject } from "./input.ts";

/** SQS's deduplication interval of ReceiveRequestAttemptId. */
export const receiveAttemptLifetimeMs = 5 * 60 * 1000;

/** Bounds of the remembered answers. */
export interface ReceiveAttemptLimits {
  /** Answers remembered at most (default 10,000). */
  entriesMax?: number;
  /** Their bytes at most (default 64 MiB), as `answerBytes` counts them. */
  bytesMax?: number;
  /** Share of each bound the answers of one caller key may hold, in (0, 1] (default 0.8). */
  callerShare?: number;
}

const defaultLimits: Required<ReceiveAttemptLimits> = {
  entriesMax: 10_000,
  bytesMax: 64 * 1024 * 1024,
  callerShare: 0.8,
};

/** The timers of the expiry sweep (the door's; default an unref'd `setTimeout`). */
export interface ReceiveAttemptTimers {
  setTimer(delayMs: number, callback: () => void): unknown;
  clearTimer(handle: unknown): void;
}

const unrefTimers: ReceiveAttemptTimers = {
  setTimer: (delayMs, callback) => {
    const timer = setTimeout(callback, delayMs);
    Deno.unrefTimer(timer);
    return timer;
  },
  clearTimer: (handle) => clearTimeout(handle as number),
};

/** One remembered receive. */
export interface RememberedReceive {
  /** The answer as first sent (the same JSON, or XML written from it, on every retry). */
  readonly answer: JsonObject;
  /** The receipt handles of its messages. */
  readonly handles: readonly string[];
  /**
   * When each handle's lock ends as last set (the engine's `visibleAt`, Unix ms), by index of
   * `handles`; empty when not known. A retry checks the set by keeping its locks there
   * (`receive_again.ts`).
   */
  readonly lockEnds: number[];
  /** True once one of its messages was deleted or had its visibility changed. */
  spent: boolean;
}

interface Entry extends RememberedReceive {
  readonly key: string;
  /** The caller key it counts against; null: none. */
  readonly caller: string | null;
  readonly bytes: number;
  readonly expiresAt: number;
}

/**
 * About the bytes an answer holds: two per UTF-16 code unit of each message's body, receipt
 * handle and stored attributes, plus a fixed share for the rest of the message's members.
 */
export function answerBytes(
  messages: readonly { body: string; receiptHandle: string; attributes?: Record<string, string> }[],
): number {
  let units = 0;
  for (const message of messages) {
    units += message.body.length + message.receiptHandle.length + 256;
    if (message.attributes === undefined) continue;
    for (const [name, value] of Object.entries(message.attributes)) {
      units += name.length + value.length;
    }
  }
  return units * 2;
}

/**
 * The door's memory of receive attempts. One per door; every call is synchronous but `turn`,
 * which lets one receive of a key run at a time.
 *
 * @example
 * ```ts
 * const attempts = new ReceiveAttempts({ now: () => performance.now() });
 * const key = ReceiveAttempts.keyOf("orders", "AKID", "attempt-1");
 * attempts.remember(key, { answer: { Messages: [] }, handles: ["h"], bytes: 512 });
 * attempts.find(key)?.handles; // ["h"]
 * ```
 */
export class ReceiveAttempts {
  readonly #clock: { now(): number };
  readonly #limits: Required<ReceiveAttemptLimits>;
  /** By key, oldest first (the insertion order: one lifetime for all, on a monotonic clock). */
  readonly #entries = new Map<string, Entry>();
  /** The key of the entry holding each remembered receipt handle. */
  readonly #keyOfHandle = new Map<string, string>();
  /** The receive of a key under way, which a retry of that key waits for. */
  readonly #running = new Map<string, Promise<void>>();
  #bytes = 0;
  /** Answers one caller key may hold, and their bytes. */
  readonly #callerEntriesMax: number;
  readonly #callerBytesMax: number;
  /** The keys of each caller key's answers, oldest first, and their bytes (none: not listed). */
  readonly #byCaller = new Map<string, { keys: Set<string>; bytes: number }>();
  readonly #timers: ReceiveAttemptTimers;
  /** The expiry sweep's timer, armed while any answer is remembered (undefined: none). */
  #sweep: unknown;
  #closed = false;

  /** Throws `RangeError` when `limits.callerShare` is not in (0, 1]. */
  constructor(
    clock: { now(): number },
    limits: ReceiveAttemptLimits = {},
    timers: ReceiveAttemptTimers = unrefTimers,
  ) {
    this.#clock = clock;
    this.#timers = timers;
    this.#limits = { ...defaultLimits, ...limits };
    const share = this.#limits.callerShare;
    if (!(share > 0 && share <= 1)) {
      throw new RangeError(`callerShare must be in (0, 1], got ${share}`);
    }
    this.#callerEntriesMax = Math.max(1, Math.floor(this.#limits.entriesMax * share));
    this.#callerBytesMax = Math.floor(this.#limits.bytesMax * share);
  }

  /** The key of an attempt id of `caller` (an access key id; null unsigned) on `queue`. */
  static keyOf(queue: string, caller: string | null, attemptId: string): string {
    return JSON.stringify([queue, caller, attemptId]);
  }

  /** Answers remembered now (expired ones not yet dropped included). */
  get size(): number {
    return this.#entries.size;
  }

  /** Answers `caller` (an access key id) holds now. */
  sizeOf(caller: string): number {
    return this.#byCaller.get(caller)?.keys.size ?? 0;
  }

  /**
   * Runs `receive` once no other receive of `key` is under way: a retry that arrives while the
   * first attempt still waits (its client gave up on a long poll) finds its answer, not a
   * second set of messages.
   */
  async turn<T>(key: string, receive: () => Promise<T>): Promise<T> {
    for (let running = this.#running.get(key); running; running = this.#running.get(key)) {
      await running;
    }
    const run = receive();
    const done = run.then(() => {}, () => {});
    this.#running.set(key, done);
    try {
      return await run;
    } finally {
      if (this.#running.get(key) === done) this.#running.delete(key);
    }
  }

  /** The unexpired answer of `key`, if remembered. */
  find(key: string): RememberedReceive | undefined {
    this.#dropExpired();
    return this.#entries.get(key);
  }

  /**
   * Remembers an answer of `key` for the lifetime from now (replacing any of that key);
   * `received.caller` is the access key id it counts against (absent or null: none).
   */
  remember(
    key: string,
    received: {
      answer: JsonObject;
      handles: readonly string[];
      lockEnds?: readonly number[];
      bytes: number;
      caller?: string | null;
    },
  ): void {
    this.#dropExpired();
    this.#forget(key);
    const caller = received.caller ?? null;
    if (received.bytes > this.#limits.bytesMax || this.#limits.entriesMax < 1) return;
    if (caller !== null) {
      if (received.bytes > this.#callerBytesMax) return;
      // Over its share, a key makes room from its own answers, oldest first.
      for (
        let held = this.#byCaller.get(caller);
        held !== undefined && (held.keys.size >= this.#callerEntriesMax ||
          held.bytes + received.bytes > this.#callerBytesMax);
        held = this.#byCaller.get(caller)
      ) {
        this.#forget(held.keys.values().next().value!);
      }
    }
    while (
      this.#entries.size >= this.#limits.entriesMax ||
      this.#bytes + received.bytes > this.#limits.bytesMax
    ) {
      this.#forget(this.#entries.keys().next().value!);
    }
    const entry: Entry = {
      answer: received.answer,
      handles: received.handles,
      lockEnds: [...(received.lockEnds ?? [])],
      bytes: received.bytes,
      caller,
      key,
      spent: false,
      expiresAt: this.#clock.now() + receiveAttemptLifetimeMs,
    };
    this.#entries.set(key, entry);
    this.#bytes += entry.bytes;
    for (const handle of entry.handles) this.#keyOfHandle.set(handle, key);
    if (caller !== null) {
      let held = this.#byCaller.get(caller);
      if (held === undefined) {
        held = { keys: new Set(), bytes: 0 };
        this.#byCaller.set(caller, held);
      }
      held.keys.add(key);
      held.bytes += entry.bytes;
    }
    this.#armSweep();
  }

  /** Clears the expiry sweep's timer; answers are then dropped only on use. */
  close(): void {
    this.#closed = true;
    if (this.#sweep !== undefined) this.#timers.clearTimer(this.#sweep);
    this.#sweep = undefined;
  }

  /** Arms the sweep for the oldest answer's expiry, unless armed, closed or nothing is held. */
  #armSweep(): void {
    if (this.#sweep !== undefined || this.#closed) return;
    const oldest = this.#entries.values().next().value;
    if (oldest === undefined) return;
    const delayMs = Math.max(0, oldest.expiresAt - this.#clock.now());
    this.#sweep = this.#timers.setTimer(delayMs, () => {
      this.#sweep = undefined;
      this.#dropExpired();
      this.#armSweep();
    });
  }

  /**
   * Marks spent the remembered sets holding any of `handles` (their messages were deleted or had
   * their visibility changed).
   */
  touched(handles: readonly string[]): void {
    if (this.#keyOfHandle.size === 0) return; // the common case: nothing remembered
    for (const handle of handles) {
      const key = this.#keyOfHandle.get(handle);
      if (key === undefined) continue;
      const entry = this.#entries.get(key);
      if (entry !== undefined) entry.spent = true;
    }
  }

  #dropExpired(): void {
    const now = this.#clock.now();
    for (const entry of this.#entries.values()) {
      if (entry.expiresAt > now) break;
      this.#forget(entry.key);
    }
  }

  #forget(key: string): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    this.#entries.delete(key);
    this.#bytes -= entry.bytes;
    for (const handle of entry.handles) this.#keyOfHandle.delete(handle);
    if (entry.caller === null) return;
    const held = this.#byCaller.get(entry.caller)!;
    held.keys.delete(key);
    held.bytes -= entry.bytes;
    if (held.keys.size === 0) this.#byCaller.delete(entry.caller);
  }
}
