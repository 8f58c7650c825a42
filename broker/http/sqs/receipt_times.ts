/**
 * The SQS door's receipt handles carry when the receive that made them was answered, so that a
 * visibility change can be held to SQS's cap: a message's lock may not end more than 12 hours
 * (43,200 s) after that receive.
 *
 * A handle is the engine's handle (base64url, which has no `.`), a `.`, then the receive's time in
 * epoch milliseconds, in decimal, by the door's clock (the leader's: a follower relays every SQS
 * request to the leader): `AQAAAAAAAAhAAAAAAAAA8D8AAAAAAAAQQJsFkLw.1700000000123`. The door takes
 * the part before the `.` to the service, so the engine's own checks (its tag keyed by the queue's
 * salt, the current delivery) judge it as before. A handle without a time (the engine's alone: one
 * this door issued before it added times, or one from another door) is accepted with no cap.
 *
 * The time is not authenticated. It needs no protection: the cap guards code that relies on SQS
 * refusing a late extension, not the queue. A client that forges a younger time (or drops it, as
 * a handle without one has no cap) only keeps the lock on a message it holds under the same
 * permission that lets it delete the message outright, which withholds it from everyone for good.
 *
 * @module
 */
import { invalidValue, type SqsError } from "./errors.ts";

/** SQS's cap on a message's lock, from the receive that took it. */
export const lockCapSeconds = 43_200;

const separator = ".";
/** Epoch milliseconds: no leading zero, at most 16 digits (any safe integer is shorter). */
const timePattern = /^[1-9][0-9]{0,15}$/;

/** A client's handle read: the engine's handle, and when it was received when it says so. */
export interface ReadHandle {
  engineHandle: string;
  /** Epoch milliseconds; undefined for a handle without a time (no cap). */
  receivedAt: number | undefined;
}

/** The door's handle of `engineHandle` received at `receivedAt` (epoch ms). */
export function doorHandle(engineHandle: string, receivedAt: number): string {
  // A plain concatenation: in a loop that also writes a receive's answer of 10 with
  // JSON.stringify, building one flat string from character codes cost about 0.4 µs a handle
  // more, not less.
  return engineHandle + separator + receivedAt;
}

/**
 * Reads a client's handle. One whose text after its last `.` is not a time is passed on whole
 * (the engine refuses it: `ReceiptHandleIsInvalid`), as is one without a `.`.
 */
export function readHandle(handle: string): ReadHandle {
  const at = handle.lastIndexOf(separator);
  if (at < 0) return { engineHandle: handle, receivedAt: undefined };
  const time = handle.slice(at + 1);
  const receivedAt = Number(time);
  if (!timePattern.test(time) || !Number.isSafeInteger(receivedAt)) {
    return { engineHandle: handle, receivedAt: undefined };
  }
  return { engineHandle: handle.slice(0, at), receivedAt };
}

/**
 * SQS's refusal of a visibility change to `seconds` at `now` (epoch ms) of a message received at
 * `receivedAt`, or null when the new lock ends at most 43,200 s after that receive. A release (0)
 * is always allowed, as is any change of a handle without a time.
 */
export function lockCapRefusal(
  seconds: number,
  receivedAt: number | undefined,
  now: number,
): SqsError | null {
  if (receivedAt === undefined || seconds === 0) return null;
  if (now + seconds * 1000 <= receivedAt + lockCapSeconds * 1000) return null;
  return invalidValue(
    "VisibilityTimeout",
    seconds,
    `Total VisibilityTimeout for the message is beyond the limit [${lockCapSeconds} seconds]`,
  );
}
