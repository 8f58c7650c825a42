/**
 * Test-only helpers of the SDK's unit tests and of `tests/sdk/`: waiting on a condition with a
 * bounded deadline (never sleeping for correctness).
 *
 * @module
 */

/**
 * Resolves once `condition()` is true, checking every few milliseconds; rejects after
 * `deadlineMs` with `what` in the message. Not a timing assertion: the deadline only bounds a
 * test that would otherwise hang.
 */
export async function waitFor(
  what: string,
  condition: () => boolean,
  deadlineMs = 10_000,
): Promise<void> {
  const giveUpAt = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > giveUpAt) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** A promise with its resolve and reject exposed. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

/** A promise to settle by hand. */
export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { promise, resolve, reject };
}

/**
 * Reads from `conn` until an HTTP head has arrived; answers what was read (the head, maybe with
 * the start of a body, as latin1), or null when the connection ends or fails first.
 */
export async function readHead(conn: Deno.Conn): Promise<string | null> {
  const buffer = new Uint8Array(4096);
  let text = "";
  while (!text.includes("\r\n\r\n")) {
    const read = await conn.read(buffer).catch(() => null);
    if (read === null) return null;
    text += new TextDecoder("latin1").decode(buffer.subarray(0, read));
  }
  return text;
}
