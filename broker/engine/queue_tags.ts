/**
 * Queue tags: key/value labels (owner, cost centre, environment) stored with a queue's
 * attributes, replicated and snapshotted with them, and never interpreted. The rules are
 * SQS's, so an SQS application's tags fit unchanged:
 *
 * - at most `tagLimits.tagsMax` (50) tags on a queue;
 * - a key has 1–128 characters, a value 0–256 (Unicode characters, not UTF-16 units);
 * - keys and values hold letters, digits, spaces (any Unicode letter, number or space
 *   separator) and `_ . : / = + - @`; nothing else (no tabs, newlines or control characters);
 * - neither starts with `aws:` (any case), the prefix SQS reserves.
 *
 * A refusal names the tag as `tags.<key>`; a key too long or empty to make a readable path
 * names `tags`, and so does the count limit.
 *
 * @module
 */
import { invalidParameter } from "./errors.ts";
import { tagLimits } from "./limits.ts";
import type { QueueTags, TagChanges } from "./types.ts";

const allowedText = /^[\p{L}\p{N}\p{Zs}_.:/=+\-@]*$/u;
const allowedRule = "may hold only letters, digits, spaces and _ . : / = + - @";
const reservedPrefix = "aws:";
/** Characters of a key echoed in a message about it (the key itself may be huge). */
const echoCharsMax = 40;

/** Unicode characters (code points) of `text`. */
function charCount(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

function echo(text: string): string {
  const chars = [...text.slice(0, echoCharsMax * 2)].slice(0, echoCharsMax).join("");
  return JSON.stringify(chars.length < text.length ? `${chars}…` : chars);
}

function checkText(text: string, field: string, what: "key" | "value"): void {
  if (!allowedText.test(text)) throw invalidParameter(field, `${what} ${allowedRule}`);
  if (text.slice(0, reservedPrefix.length).toLowerCase() === reservedPrefix) {
    throw invalidParameter(field, `${what} must not start with "${reservedPrefix}"`);
  }
}

/** Checks one tag key; answers the field that names it (`tags.<key>`). */
export function checkTagKey(key: unknown, field = "tags"): string {
  if (typeof key !== "string") throw invalidParameter(field, "keys must be strings");
  if (key === "") throw invalidParameter(field, "a key must not be empty");
  const chars = charCount(key);
  if (chars > tagLimits.keyCharsMax) {
    throw invalidParameter(
      field,
      `key ${echo(key)} has ${chars} characters; at most ${tagLimits.keyCharsMax}`,
    );
  }
  const keyField = `${field}.${key}`;
  checkText(key, keyField, "key");
  return keyField;
}

function checkTagValue(value: unknown, field: string): string {
  if (typeof value !== "string") throw invalidParameter(field, "must be a string");
  if (charCount(value) > tagLimits.valueCharsMax) {
    throw invalidParameter(field, `must have at most ${tagLimits.valueCharsMax} characters`);
  }
  checkText(value, field, "value");
  return value;
}

function checkCount(count: number, field: string): void {
  if (count > tagLimits.tagsMax) {
    throw invalidParameter(field, `must have at most ${tagLimits.tagsMax} tags, got ${count}`);
  }
}

/**
 * The stored form of a tag map: keys sorted (a listing does not depend on the order a client
 * sent them in), frozen (a view handed to a door can't change the state), and built with
 * `fromEntries` so that a key such as `__proto__` stays data.
 */
function stored(entries: [string, string][]): QueueTags {
  entries.sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0));
  return Object.freeze(Object.fromEntries(entries));
}

/** Checks a tag map (a create or update body, a TagQueue) and answers a clean, frozen copy. */
export function checkTags(value: unknown, field = "tags"): QueueTags {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalidParameter(field, "must be an object of string values");
  }
  const entries = Object.entries(value as Record<string, unknown>);
  checkCount(entries.length, field);
  return stored(entries.map(([key, text]) => [key, checkTagValue(text, checkTagKey(key, field))]));
}

/** Checks a `TagChanges` of a command or a request; `undefined` stays undefined. */
export function checkTagChanges(value: unknown): TagChanges | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalidParameter("tagChanges", "must be an object");
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (key !== "set" && key !== "remove") {
      throw invalidParameter(`tagChanges.${key}`, "unknown field");
    }
  }
  const changes: TagChanges = {};
  if (record.set !== undefined) changes.set = checkTags(record.set);
  if (record.remove !== undefined) changes.remove = checkRemovals(record.remove);
  return changes;
}

function checkRemovals(value: unknown): string[] {
  const field = "tagKeys";
  if (!Array.isArray(value)) throw invalidParameter(field, "must be a list of keys");
  // A queue never holds more than tagsMax keys, so a longer list can only name absent ones.
  if (value.length > tagLimits.tagsMax) {
    throw invalidParameter(field, `must have at most ${tagLimits.tagsMax} entries`);
  }
  value.forEach((key, index) => {
    if (typeof key !== "string" || key === "" || charCount(key) > tagLimits.keyCharsMax) {
      throw invalidParameter(
        `${field}.${index}`,
        `must be a key of 1 to ${tagLimits.keyCharsMax} characters`,
      );
    }
  });
  return [...value];
}

/**
 * `current` with `changes` applied (set, then remove); undefined when no tag is left. Throws
 * when the result would hold more than `tagsMax` tags.
 */
export function applyTagChanges(
  current: QueueTags | undefined,
  changes: TagChanges,
): QueueTags | undefined {
  const tags = new Map(Object.entries(current ?? {}));
  for (const [key, value] of Object.entries(changes.set ?? {})) tags.set(key, value);
  for (const key of changes.remove ?? []) tags.delete(key);
  checkCount(tags.size, "tags");
  return tags.size === 0 ? undefined : stored([...tags]);
}

/** True when two tag maps hold the same keys with the same values (any key order). */
export function sameTags(left: QueueTags, right: QueueTags): boolean {
  const leftKeys = Object.keys(left);
  if (leftKeys.length !== Object.keys(right).length) return false;
  return leftKeys.every((key) => Object.hasOwn(right, key) && right[key] === left[key]);
}
