/**
 * The consumer as an async iterator: `for await (const message of consumer) { … }`.
 *
 * Internally each delivery is a handler call that waits until the loop is done with it, so the
 * iterator shares everything with the handler form: `concurrency` bounds the messages held at
 * once (the one in the loop body plus prefetched ones), and their locks are renewed while held.
 *
 * @module
 */
import type { ReceivedMessage } from "./protocol.ts";

/**
 * A message yielded by the consumer's iterator. Deletion is **automatic**: the message is
 * deleted when the loop asks for the next one (the body finished without throwing). Leaving
 * the loop early — `break`, `return` or a throw — counts as a failure of the current message:
 * it comes back after the retry delay (call `complete()` first if it was in fact handled).
 * Prefetched messages the loop never saw are released at once. `fail(error)` reports `error`
 * to `onError` and schedules the retry without leaving the loop. Inside the loop, don't
 * `await consumer.stop()` (it waits for the loop's current message, so for the loop): `break`.
 */
export interface Delivery extends ReceivedMessage {
  /** Aborted by `stop({ abort: true })`, and when the broker refuses a renewal (see `HandlerContext`). */
  readonly signal: AbortSignal;
  /** Settles the message as handled: it is deleted. */
  complete(): void;
  /** Settles the message as failed: it comes back after the retry delay. */
  fail(error?: unknown): void;
}

/**
 * A handler rejects (or throws) with this for a message it did not process — one the loop never
 * saw, one the CLI's `tail --delete` received past its `--count` —: released at once, not failed.
 */
export const unprocessed: unique symbol = Symbol("unprocessed");
/** A handler rejects with this when the loop was left while the message was current. */
export const leftLoop: unique symbol = Symbol("left the loop");

interface Held {
  delivery: Delivery;
  settled: boolean;
  resolve(): void;
  reject(reason: unknown): void;
}

/**
 * Hands handler calls to a `for await` loop. Internal to `consumer.ts`.
 *
 * @example
 * ```ts
 * const iterator = new DeliveryIterator(() => consumer.stop());
 * // the consumer's handler: (message, { signal }) => iterator.deliver(message, signal)
 * for await (const delivery of iterator) console.log(delivery.body);
 * ```
 */
export class DeliveryIterator implements AsyncIterableIterator<Delivery> {
  readonly #stop: () => Promise<void>;
  /** Received, not yet yielded. */
  #buffer: Held[] = [];
  #current: Held | undefined;
  #waiter: ((result: IteratorResult<Delivery>) => void) | undefined;
  #ended = false;

  constructor(stop: () => Promise<void>) {
    this.#stop = stop;
  }

  /** The handler: resolves when the loop is done with the message (rejects when it failed). */
  deliver(message: ReceivedMessage, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const held: Held = {
        delivery: undefined as unknown as Delivery,
        settled: false,
        resolve: () => settle(resolve),
        reject: (reason) => settle(() => reject(reason)),
      };
      const settle = (finish: () => void) => {
        if (held.settled) return;
        held.settled = true;
        finish();
      };
      held.delivery = {
        ...message,
        signal,
        complete: () => held.resolve(),
        fail: (error?: unknown) => held.reject(error ?? new Error("the message failed")),
      };
      if (this.#ended) {
        held.reject(unprocessed);
        return;
      }
      const waiter = this.#waiter;
      if (waiter === undefined) {
        this.#buffer.push(held);
        return;
      }
      this.#waiter = undefined;
      this.#current = held;
      waiter({ value: held.delivery, done: false });
    });
  }

  /** No more deliveries will come (the consumer is stopping); the loop drains what it has. */
  end(): void {
    this.#ended = true;
    if (this.#buffer.length === 0) this.#finishWaiter();
  }

  next(): Promise<IteratorResult<Delivery>> {
    // Asking for the next message means the body finished the current one.
    this.#current?.resolve();
    this.#current = undefined;
    const held = this.#buffer.shift();
    if (held !== undefined) {
      this.#current = held;
      return Promise.resolve({ value: held.delivery, done: false });
    }
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.#waiter = resolve));
  }

  async return(): Promise<IteratorResult<Delivery>> {
    this.#current?.reject(leftLoop);
    this.#current = undefined;
    this.#ended = true;
    for (const held of this.#buffer.splice(0)) held.reject(unprocessed);
    this.#finishWaiter();
    await this.#stop();
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Delivery> {
    return this;
  }

  #finishWaiter(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.({ value: undefined, done: true });
  }
}
