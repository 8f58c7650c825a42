/**
 * Messages of the query protocol in its own parameter names. The operations write their messages
 * with the JSON members of the input (`Entries.1.MessageBody`, `Entries.0.MessageAttributes.size`,
 * entries numbered from 0 as in the JSON list); a query client sent flattened parameters
 * numbered from 1 (`SendMessageBatchRequestEntry.2.MessageBody`,
 * `SendMessageBatchRequestEntry.1.MessageAttribute.2`). When a query answer is written, the
 * error's message and each `Failed` entry's Message are rewritten by the operation's input shape
 * (`query_shapes.ts`) and the input itself, which gives a map key's number (`size` is
 * `MessageAttribute.2` when it was the second attribute sent):
 *
 * - a list member is its item's name, an index in it the index plus one;
 * - a map member is its entry's name; a key of it, when the input has that key, is the entry of
 *   that number (`Attribute.1`, whose Name and Value the message is about), and a path into its
 *   value goes through the value's name (`MessageAttribute.2.Value.StringValue`); a key the
 *   input does not have (which no message of the door names) keeps the JSON's member;
 * - a scalar member is named the same in both protocols.
 *
 * Only text at the start of a word is read as a member path, and only paths that start with a
 * member of the operation's input (or the service's word for one: `tags.<key>` of TagQueue is
 * its `Tags`, so `Tag.<n>`): prose and values are left as they are (a quoted value that happens
 * to spell a member path would be rewritten too; the door's messages quote none). A member that
 * is also an English word (`tags`) is read as one only at the message's start or followed by a
 * path (`…at most 50 tags` is prose).
 *
 * @module
 */
import { SqsError } from "./errors.ts";
import type { JsonObject } from "./input.ts";
import type { Shape, StructShape } from "./query_shapes.ts";

/** A translated path: its query name and where it ended in the text. */
interface Translated {
  out: string;
  end: number;
}

const wordCharacter = /[\w-]/;

function endsWord(text: string, at: number): boolean {
  return at >= text.length || !wordCharacter.test(text[at]);
}

function asObject(value: unknown): JsonObject | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? value as JsonObject
    : undefined;
}

/**
 * Members the service names in its own words, by those words: it calls a queue's tags `tags`
 * (CreateQueue's member too) and the keys to remove `tagKeys`, which TagQueue and UntagQueue send
 * as `Tags` and `TagKeys`.
 */
const serviceSpellings: Record<string, string> = { tags: "Tags", tagKeys: "TagKeys" };

/**
 * True when `word` at `at` may be read as a member path: a word that is also prose (`tags`, in
 * lower case) only as the message's subject (at its start) or followed by a path (`tags.team`),
 * so `at most 50 tags` stays as it is.
 */
function readsAsPath(text: string, at: number, word: string): boolean {
  const end = at + word.length;
  if (!text.startsWith(word, at) || !endsWord(text, end)) return false;
  return !/^[a-z]/.test(word) || at === 0 || (text[end] === "." && !endsWord(text, end + 1));
}

/** The path at `at` that starts with a member of `shape`, or null when none does. */
function translateMember(
  text: string,
  at: number,
  shape: StructShape,
  value: JsonObject | undefined,
): Translated | null {
  const members = Object.keys(shape.members).sort((left, right) => right.length - left.length);
  for (const member of members) {
    if (!readsAsPath(text, at, member)) continue;
    return translateValue(text, at + member.length, member, shape.members[member], value?.[member]);
  }
  for (const [spelling, member] of Object.entries(serviceSpellings)) {
    if (!Object.hasOwn(shape.members, member) || Object.hasOwn(shape.members, spelling)) continue;
    if (!readsAsPath(text, at, spelling)) continue;
    return translateValue(
      text,
      at + spelling.length,
      member,
      shape.members[member],
      value?.[member],
    );
  }
  return null;
}

/** The rest of a path after `member` (at `at`), by the member's shape. */
function translateValue(
  text: string,
  at: number,
  member: string,
  shape: Shape,
  value: unknown,
): Translated {
  if (typeof shape === "string") return { out: member, end: at };
  if (shape.kind === "struct") {
    const inner = text[at] === "." ? translateMember(text, at + 1, shape, asObject(value)) : null;
    return inner === null
      ? { out: member, end: at }
      : { out: `${member}.${inner.out}`, end: inner.end };
  }
  if (shape.kind === "list") {
    const index = /^\.(\d{1,6})(?![\w-])/.exec(text.slice(at, at + 8));
    if (index === null) return { out: shape.item, end: at };
    const position = Number(index[1]);
    const item = Array.isArray(value) ? value[position] : undefined;
    const out = `${shape.item}.${position + 1}`;
    const end = at + index[0].length;
    return withInner(text, end, out, shape.of, item);
  }
  const entries = asObject(value);
  // A sentence's full stop ends the member: `…the parameter Attributes.`
  if (text[at] !== "." || endsWord(text, at + 1)) return { out: shape.entry, end: at };
  if (entries === undefined) return { out: member, end: at };
  const keys = Object.keys(entries);
  const byLength = [...keys].sort((left, right) => right.length - left.length);
  for (const key of byLength) {
    const end = at + 1 + key.length;
    if (!text.startsWith(key, at + 1) || !endsWord(text, end)) continue;
    // The key alone names the entry (a message about the key or the value says which); a path
    // into the value goes through the value's name.
    const out = `${shape.entry}.${keys.indexOf(key) + 1}`;
    const inner = withInner(text, end, `${out}.${shape.value}`, shape.of, entries[key]);
    return inner.end === end ? { out, end } : inner;
  }
  return { out: member, end: at };
}

/** `out` followed by the path into a structured item or value, when the text goes on into it. */
function withInner(text: string, at: number, out: string, shape: Shape, value: unknown) {
  if (typeof shape === "string" || shape.kind !== "struct" || text[at] !== ".") {
    return { out, end: at };
  }
  const inner = translateMember(text, at + 1, shape, asObject(value));
  return inner === null ? { out, end: at } : { out: `${out}.${inner.out}`, end: inner.end };
}

/** `text` with every JSON member path of `shape`'s input written as the query's parameter. */
export function inQueryTerms(text: string, shape: StructShape, input: JsonObject): string {
  let result = "";
  let copied = 0;
  for (let at = 0; at < text.length; at++) {
    if (at > 0 && /[\w.-]/.test(text[at - 1])) continue;
    if (!/[A-Za-z]/.test(text[at])) continue;
    const translated = translateMember(text, at, shape, input);
    if (translated === null) continue;
    result += text.slice(copied, at) + translated.out;
    copied = translated.end;
    at = translated.end - 1;
  }
  return copied === 0 ? text : result + text.slice(copied);
}

/** `error` with its message in the query's parameter names. */
export function queryTermsError(error: SqsError, shape: StructShape, input: JsonObject): SqsError {
  const message = inQueryTerms(error.message, shape, input);
  if (message === error.message) return error;
  return new SqsError(error.code, message, {
    retryAfterSeconds: error.retryAfterSeconds,
    status: error.status,
  });
}

/** `output` with the Message of each `Failed` entry (batch results) in the query's names. */
export function queryTermsOutput(
  output: JsonObject,
  shape: StructShape,
  input: JsonObject,
): JsonObject {
  if (!Array.isArray(output.Failed) || output.Failed.length === 0) return output;
  const failed = output.Failed.map((entry: JsonObject) => {
    const message = inQueryTerms(String(entry.Message), shape, input);
    return message === entry.Message ? entry : { ...entry, Message: message };
  });
  return { ...output, Failed: failed };
}
