/**
 * Reading the members of an AWS JSON 1.0 request body. A member of the wrong JSON type is a
 * `SerializationException` (the protocol layer could not read the request); a required member
 * that is absent is `MissingParameter`; a value of the right type outside its range is
 * `InvalidParameterValue` — the distinctions SQS makes.
 *
 * @module
 */
import { jsonBoundsProblem } from "../../service/mod.ts";
import { invalidValue, missingParameter, SqsError } from "./errors.ts";

/** A JSON object as parsed from a request body. */
export type JsonObject = Record<string, unknown>;

/** True for a plain JSON object (not null, not an array). */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function wrongType(member: string, expected: string): SqsError {
  return new SqsError("SerializationException", `${member}: expected ${expected}`);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Parses a request body's bytes; an empty body is `{}`, as the SDK sends for operations without
 * input. Bytes that are not UTF-8 are refused, never replaced: a message is stored as sent or
 * not at all.
 */
export function parseRequestBody(body: Uint8Array): JsonObject {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw new SqsError("SerializationException", "The request body is not valid UTF-8.");
  }
  return parseJson(text);
}

function parseJson(text: string): JsonObject {
  if (text.trim() === "") return {};
  // Refused before it is parsed: a body that would cost far more than its size.
  const problem = jsonBoundsProblem(text);
  if (problem !== null) {
    throw new SqsError("SerializationException", `The request body is ${problem}.`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new SqsError("SerializationException", "The request body is not valid JSON.");
  }
  if (!isJsonObject(parsed)) throw wrongType("request body", "a JSON object");
  return parsed;
}

/**
 * `JSON.parse` of JSON a request carries inside a string (a RedrivePolicy, a NextToken); text
 * too costly to parse (`jsonBoundsProblem`) throws a `SyntaxError`, as text that is not JSON.
 */
export function parseCarriedJson<T = unknown>(text: string): T {
  if (jsonBoundsProblem(text) !== null) throw new SyntaxError("JSON too costly to parse");
  return JSON.parse(text) as T;
}

/** A string member, or undefined when absent (null counts as absent, as in the AWS codecs). */
export function optionalString(input: JsonObject, member: string): string | undefined {
  const value = input[member];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw wrongType(member, "a string");
  return value;
}

/** A string member that must be present and non-empty. */
export function requiredString(input: JsonObject, member: string): string {
  const value = optionalString(input, member);
  if (value === undefined || value === "") throw missingParameter(member);
  return value;
}

/** An integer member within `range`, or undefined when absent. */
export function optionalInteger(
  input: JsonObject,
  member: string,
  range: { min: number; max: number },
): number | undefined {
  const value = input[member];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value)) throw wrongType(member, "an integer");
  if (value < range.min || value > range.max) {
    throw invalidValue(
      member,
      value,
      `Must be between ${range.min} and ${range.max}, if provided.`,
    );
  }
  return value;
}

/** A list member, or undefined when absent. */
export function optionalList(input: JsonObject, member: string): unknown[] | undefined {
  const value = input[member];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw wrongType(member, "a list");
  return value;
}

/** A list of strings, or undefined when absent. */
export function optionalStringList(input: JsonObject, member: string): string[] | undefined {
  const list = optionalList(input, member);
  if (list === undefined) return undefined;
  for (const item of list) {
    if (typeof item !== "string") throw wrongType(`${member} entries`, "strings");
  }
  return list as string[];
}

/** A map of strings to strings, or undefined when absent. */
export function optionalStringMap(
  input: JsonObject,
  member: string,
): Record<string, string> | undefined {
  const value = input[member];
  if (value === undefined || value === null) return undefined;
  if (!isJsonObject(value)) throw wrongType(member, "a map of strings");
  for (const entry of Object.values(value)) {
    if (typeof entry !== "string") throw wrongType(`${member} values`, "strings");
  }
  return value as Record<string, string>;
}

/** A map member, or undefined when absent. */
export function optionalMap(input: JsonObject, member: string): JsonObject | undefined {
  const value = input[member];
  if (value === undefined || value === null) return undefined;
  if (!isJsonObject(value)) throw wrongType(member, "a map");
  return value;
}

/** A list entry that must be a JSON object (batch entries). */
export function objectEntry(value: unknown, member: string): JsonObject {
  if (!isJsonObject(value)) throw wrongType(member, "a structure");
  return value;
}

/**
 * The code units SQS refuses in a body beside lone surrogates: it allows XML 1.0's characters,
 * #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF.
 */
// deno-lint-ignore no-control-regex -- the control characters are what it looks for
const refusedBodyCodeUnit = /[\0-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/;

/**
 * True when `text` (a body or a String attribute's value) holds a character SQS refuses.
 * `isWellFormed` finds lone surrogates at native speed, so the regex needs no Unicode mode:
 * about half the cost of one Unicode-mode pattern over a 1 KB body. `hot_path_test.ts` checks it
 * against that pattern.
 */
export function hasRefusedBodyCharacter(text: string): boolean {
  return !text.isWellFormed() || refusedBodyCodeUnit.test(text);
}

/** SQS's MessageGroupId and MessageDeduplicationId: 1–128 alphanumerics and ASCII punctuation. */
const idTextPattern = /^[\x21-\x7E]{1,128}$/;

/** An optional MessageGroupId or MessageDeduplicationId, held to SQS's characters. */
export function optionalIdText(input: JsonObject, member: string): string | undefined {
  const value = optionalString(input, member);
  if (value !== undefined && !idTextPattern.test(value)) {
    throw invalidValue(
      member,
      value,
      `${member} is 1 to 128 alphanumeric or punctuation characters (!"#$%&'()*+,-./:;<=>?@[\\]^_\`{|}~).`,
    );
  }
  return value;
}
