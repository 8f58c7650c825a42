/**
 * Checks of the `Consumer`'s options and of the receive answers it hands to handlers. Internal to
 * `consumer.ts`.
 *
 * @module
 */
import { CmqdError } from "./errors.ts";

/**
 * Throws `UnexpectedResponse` unless `answer.messages` is a list of messages (objects with a
 * receipt handle): from a proxy or a non-conforming server, anything else was handed to the
 * handlers, or threw in the receive loop where nobody catches it (an unhandled rejection).
 */
export function checkReceiveAnswer(answer: unknown): void {
  const messages = (answer as { messages?: unknown } | null)?.messages;
  if (
    Array.isArray(messages) &&
    messages.every((message) => typeof message?.receiptHandle === "string")
  ) return;
  throw new CmqdError(
    "UnexpectedResponse",
    "HTTP 200 to a receive of another shape: 'messages' is not a list of messages",
    { status: 200 },
  );
}

export function checkRange(name: string, value: number, min: number, max: number): void {
  if (!(Number.isInteger(value) && value >= min && value <= max)) {
    throw new RangeError(`${name} must be an integer in ${min}–${max}, got ${value}`);
  }
}
