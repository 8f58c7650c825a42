/**
 * A JSON answer's body, written message by message when it carries large message bodies. A
 * receive answers up to 64 MiB of bodies, and JSON may write each character of a body as six
 * bytes (a control character: `\u0001`): built whole, its text and then its bytes cost the node
 * several times the answer (one receive of 64 bodies of 1 MiB of them held about 1.4 GB). Past
 * `streamedBodyCharsMin` characters of bodies the answer is a stream that writes one message's
 * JSON as the client reads it, so the node holds the bodies it read and one message's JSON at a
 * time; the bytes are those `JSON.stringify` writes. Smaller answers are one string, as before.
 *
 * @module
 */

/** Characters of message bodies from which an answer is streamed rather than built whole. */
export const streamedBodyCharsMin = 1024 * 1024;

const utf8 = new TextEncoder();

/** `value`'s JSON: a string, or a stream of its bytes when its `messages` carry large bodies. */
export function jsonAnswerBody(value: unknown): string | ReadableStream<Uint8Array> {
  return carriesLargeBodies(value) ? jsonAnswerStream(value) : JSON.stringify(value);
}

/** The bytes of `value`'s JSON as a stream, one part (an array element: a message) at a time. */
export function jsonAnswerStream(value: unknown): ReadableStream<Uint8Array> {
  const parts = jsonParts(value as Record<string, unknown>);
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = parts.next();
      if (next.done === true) controller.close();
      else controller.enqueue(utf8.encode(next.value));
    },
  }, { highWaterMark: 1 });
}

/** Whether `value` is an object whose `messages` array carries bodies past the threshold. */
export function carriesLargeBodies(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  const messages = (value as { messages?: unknown }).messages;
  if (!Array.isArray(messages)) return false;
  let chars = 0;
  for (const message of messages) {
    const body = (message as { body?: unknown } | null)?.body;
    if (typeof body === "string") chars += body.length;
    if (chars >= streamedBodyCharsMin) return true;
  }
  return false;
}

/**
 * The JSON of a plain object in parts, in the order and form `JSON.stringify` writes it: each
 * element of an array member is a part of its own, every other member one part.
 */
function* jsonParts(value: Record<string, unknown>): Generator<string> {
  let head = "{";
  for (const key of Object.keys(value)) {
    const member = value[key];
    const text = Array.isArray(member) ? null : JSON.stringify(member);
    // JSON.stringify leaves out members it can't write (undefined, functions, symbols).
    if (!Array.isArray(member) && text === undefined) continue;
    head += `${head === "{" ? "" : ","}${JSON.stringify(key)}:`;
    if (text !== null && text !== undefined) {
      head += text;
      continue;
    }
    const items = member as unknown[];
    if (items.length === 0) {
      head += "[]";
      continue;
    }
    for (let i = 0; i < items.length; i++) {
      // An element JSON can't write is `null`, as in JSON.stringify.
      const item = JSON.stringify(items[i]) ?? "null";
      yield `${head}${i === 0 ? "[" : ","}${item}`;
      head = "";
    }
    head = "]";
  }
  yield `${head}}`;
}
