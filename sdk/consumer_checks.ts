/**
 * Checks of the receive answers the `Consumer` hands to handlers (its options: `option_checks.ts`).
 * Internal to `consumer.ts`.
 *
 * @module
 */
import { CmqdError } from "./errors.ts";

/**
 * Throws `UnexpectedResponse` unless `answer.messages` is a list of messages (objects with a
 * receipt handle, not empty): from a proxy or a non-conforming server, anything else was handed to
 * the handlers, or threw in the receive loop where nobody catches it (an unhandled rejection). An
 * empty handle names no delivery: the message's delete, renewals and release could only fail.
 */
export function checkReceiveAnswer(answer: unknown): void {
  const messages = (answer as { messages?: unknown } | null)?.messages;
  if (
    Array.isArray(messages) &&
    messages.every((message) =>
      typeof message?.receiptHandle === "string" && message.receiptHandle !== ""
    )
  ) return;
  throw new CmqdError(
    "UnexpectedResponse",
    "HTTP 200 to a receive of another shape: 'messages' is not a list of messages with receipt " +
      "handles",
    { status: 200 },
  );
}
