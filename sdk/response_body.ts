/**
 * The bound on a response body that the SDK's own transports read (`Http1Transport` in Deno,
 * `NodeHttpTransport` in Node), and their failure past it: the same in both, so a client behaves
 * the same whichever runtime it runs in. A body over it is not held in memory: its connection
 * ends, the answer keeps its status, and `text()` rejects.
 *
 * @module
 */
import { TransportError } from "./errors.ts";

/** Bytes of a response body read at most, by default (`bodyBytesMax`): 256 MiB. */
export const responseBodyBytesMax = 256 * 1024 * 1024;

/**
 * A transport's `bodyBytesMax` option: the default when left out; else it must be a positive
 * number (`Infinity`: no bound). Throws `RangeError` otherwise: `NaN` or a string would turn the
 * bound off without a word.
 */
export function bodyBytesMaxOf(value: number | undefined): number {
  if (value === undefined) return responseBodyBytesMax;
  if (typeof value === "number" && value > 0) return value;
  throw new RangeError(`bodyBytesMax must be a positive number of bytes, not ${String(value)}`);
}

/** The failure's message: a body over `bytesMax`. */
export function bodyOverMessage(bytesMax: number): string {
  return `response body over ${bytesMax} bytes`;
}

/** A body over `bytesMax` (`text()` rejects with it): a `TransportError`. */
export function bodyTooLarge(bytesMax: number): TransportError {
  return new TransportError(bodyOverMessage(bytesMax));
}
