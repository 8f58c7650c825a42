/**
 * SQS message attributes ↔ cmqd's string pairs.
 *
 * cmqd keeps at most 10 attributes per message, each a key of ≤128 characters and a string value
 * of ≤1024 characters. SQS attributes carry a data type beside the value, and the type takes part
 * in `MD5OfMessageAttributes`, so it must survive the round trip. The type rides in the key:
 *
 * - `String` attributes are stored as they are: `{"kind": "photo"}`. A native v1 or CMQ
 *   producer's attributes therefore reach SQS consumers as `String` attributes, and SQS
 *   producers' `String` attributes reach native consumers unchanged.
 * - any other type is stored under `name:DataType`: `{"size:Number": "42"}`,
 *   `{"thumb:Binary": "<base64>"}`, `{"price:Number.float": "9.5"}`. SQS names and data types
 *   can't contain `:`, so the split is unambiguous; a stored key whose suffix is not an SQS data
 *   type, or whose name would be `__proto__` (refused as a name on every door), is read back
 *   as a `String` attribute with the whole key as its name.
 *
 * Binary values are kept as their base64 text, so a binary attribute holds at most 768 bytes.
 *
 * @module
 */
import { messageLimits, reservedKey, reservedKeyRule } from "./broker_deps.ts";
import { SqsError } from "./errors.ts";
import { hasRefusedBodyCharacter, isJsonObject, type JsonObject } from "./input.ts";
import type { SqsAttributeValue } from "./md5.ts";

const typeSeparator = ":";
const dataTypePattern = /^(String|Number|Binary)(\.[A-Za-z0-9_.-]{1,250})?$/;
const namePattern = /^[A-Za-z0-9_.-]{1,256}$/;
const reservedNamePattern = /^(aws\.|amazon\.)/i;
/**
 * A decimal number: digits with an optional point, or a point and digits, then an optional
 * exponent. Written so that a digit can be matched one way only (`\d+(?:\.\d*)?`, not
 * `\d+\.?\d*`, which splits a run of digits between its two halves in every way): the ambiguous
 * form took time quadratic in the length to refuse a run of digits ending in a letter.
 */
export const numberPattern = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const base64Pattern = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * True when a number `numberPattern` accepts is one SQS takes: zero, or at most 38 significant
 * digits with a magnitude from 10^-128 to 10^126 (`1e99999` is refused, not stored as text).
 */
export function withinSqsNumberRange(value: string): boolean {
  const [, whole, fraction, exponent] = /^[+-]?(\d*)\.?(\d*)(?:[eE]([+-]?\d+))?$/.exec(value)!;
  const digits = (whole + fraction).replace(/^0+/, "");
  if (digits === "") return true;
  if (withoutTrailingZeros(digits).length > 38) return false;
  const wholeDigits = whole.replace(/^0+/, "").length;
  const leadingZeros = fraction.length - fraction.replace(/^0+/, "").length;
  const order = (wholeDigits > 0 ? wholeDigits - 1 : -(leadingZeros + 1)) + Number(exponent ?? 0);
  return order >= -128 && order <= 126;
}

/**
 * `text` without its trailing zeros. A loop, not `replace(/0+$/)`, which tries every run of
 * zeros from each of its positions: quadratic in the run's length when it does not end the text.
 */
function withoutTrailingZeros(text: string): string {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 48) end--;
  return text.slice(0, end);
}

function invalidAttribute(name: string, reason: string): SqsError {
  return new SqsError(
    "InvalidParameterValue",
    `The message attribute '${name.slice(0, 256)}' is invalid. Reason: ${reason}`,
  );
}

function checkName(name: string): void {
  // Refused on every door (`service/reserved_keys.ts`), whatever the data type.
  if (name === reservedKey) throw invalidAttribute(name, `${reservedKeyRule}.`);
  if (
    !namePattern.test(name) || name.startsWith(".") || name.endsWith(".") ||
    name.includes("..") || reservedNamePattern.test(name)
  ) {
    throw invalidAttribute(
      name,
      "Names are 1 to 256 alphanumeric characters, hyphens, underscores or periods, " +
        "don't start or end with a period, have no two periods in a row, " +
        "and don't start with AWS. or Amazon.",
    );
  }
}

/** The stored value of one SQS attribute, checked against SQS's and cmqd's rules. */
function storedValue(name: string, attribute: JsonObject, dataType: string): string {
  if (attribute.StringListValues != null || attribute.BinaryListValues != null) {
    throw invalidAttribute(name, "StringListValues and BinaryListValues are not supported.");
  }
  const isBinary = dataType.startsWith("Binary");
  const value = isBinary ? attribute.BinaryValue : attribute.StringValue;
  const member = isBinary ? "BinaryValue" : "StringValue";
  if (typeof value !== "string" || value === "") {
    throw invalidAttribute(name, `A ${dataType} attribute needs a non-empty ${member}.`);
  }
  // The length first: every check below reads the whole value (up to a request's 4 MiB).
  if (value.length > messageLimits.attributeValueCharsMax) {
    throw invalidAttribute(
      name,
      `cmqd keeps values of at most ${messageLimits.attributeValueCharsMax} characters ` +
        "(binary values count as base64).",
    );
  }
  if (isBinary && !base64Pattern.test(value)) {
    throw invalidAttribute(name, "BinaryValue must be base64.");
  }
  if (!isBinary && hasRefusedBodyCharacter(value)) {
    throw invalidAttribute(
      name,
      "A StringValue may hold only the characters a message body may: #x9 | #xA | #xD | " +
        "#x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF.",
    );
  }
  if (dataType.startsWith("Number") && !numberPattern.test(value)) {
    throw invalidAttribute(name, `'${value.slice(0, 100)}' is not a number.`);
  }
  if (dataType.startsWith("Number") && !withinSqsNumberRange(value)) {
    throw invalidAttribute(
      name,
      `'${value.slice(0, 100)}' is outside SQS's numbers: at most 38 significant digits, ` +
        "between 10^-128 and 10^126.",
    );
  }
  return value;
}

/** The stored key of an attribute: the name, plus `:DataType` for types other than String. */
function storedKey(name: string, dataType: string): string {
  const key = dataType === "String" ? name : name + typeSeparator + dataType;
  if (key.length > messageLimits.attributeKeyCharsMax) {
    throw invalidAttribute(
      name,
      `cmqd keeps attribute names (with ':' and the data type unless it is String) of at most ` +
        `${messageLimits.attributeKeyCharsMax} characters.`,
    );
  }
  return key;
}

/** What a send's `MessageAttributes` become: the stored pairs and the SQS view (for the MD5). */
export interface EncodedAttributes {
  stored: Record<string, string>;
  attributes: Record<string, SqsAttributeValue>;
}

/** Validates and encodes the `MessageAttributes` of a send; undefined when there are none. */
export function encodeMessageAttributes(value: unknown): EncodedAttributes | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isJsonObject(value)) {
    throw new SqsError("SerializationException", "MessageAttributes: expected a map");
  }
  const entries = Object.entries(value);
  if (entries.length === 0) return undefined;
  if (entries.length > messageLimits.attributesMax) {
    throw new SqsError(
      "InvalidParameterValue",
      `Number of message attributes [${entries.length}] exceeds the allowed maximum ` +
        `[${messageLimits.attributesMax}].`,
    );
  }
  const encoded: EncodedAttributes = { stored: {}, attributes: {} };
  for (const [name, attribute] of entries) {
    checkName(name);
    if (!isJsonObject(attribute)) {
      throw new SqsError("SerializationException", `MessageAttributes.${name}: expected a map`);
    }
    const dataType = attribute.DataType;
    if (typeof dataType !== "string" || !dataTypePattern.test(dataType)) {
      throw invalidAttribute(
        name,
        "DataType must be String, Number or Binary, optionally followed by '.' and a label.",
      );
    }
    const stored = storedValue(name, attribute, dataType);
    encoded.stored[storedKey(name, dataType)] = stored;
    encoded.attributes[name] = dataType.startsWith("Binary")
      ? { DataType: dataType, BinaryValue: stored }
      : { DataType: dataType, StringValue: stored };
  }
  return encoded;
}

/** One stored pair as an SQS attribute (name and value). */
function decodeOne(key: string, value: string): [string, SqsAttributeValue] {
  const split = key.indexOf(typeSeparator);
  if (split > 0) {
    const dataType = key.slice(split + 1);
    const name = key.slice(0, split);
    // No SQS name is `__proto__` (refused on every door): such a key stays whole.
    if (dataTypePattern.test(dataType) && name !== reservedKey) {
      if (!dataType.startsWith("Binary")) return [name, { DataType: dataType, StringValue: value }];
      if (base64Pattern.test(value)) return [name, { DataType: dataType, BinaryValue: value }];
    }
  }
  return [key, { DataType: "String", StringValue: value }];
}

/**
 * The attributes of a received message that `requested` (`MessageAttributeNames`) asks for:
 * `All`, `*` or `.*` for every one, `prefix.*` for names starting with `prefix` (`Hel.*` takes
 * `Hello` and `Help.Me`), else exact names; a name no attribute has takes nothing and is not
 * refused. That is what SQS answers (localstack's snapshot of
 * `test_receive_message_message_attribute_names_filters`, recorded against AWS). Nothing is
 * returned when nothing was asked for, as in SQS.
 */
export function decodeMessageAttributes(
  stored: Record<string, string> | undefined,
  requested: readonly string[],
): Record<string, SqsAttributeValue> {
  const selected: Record<string, SqsAttributeValue> = {};
  if (stored === undefined || requested.length === 0) return selected;
  const all = requested.includes("All") || requested.includes("*") || requested.includes(".*");
  const prefixes = requested.filter((name) => name.endsWith(".*")).map((name) => name.slice(0, -2));
  for (const [key, value] of Object.entries(stored)) {
    const [name, attribute] = decodeOne(key, value);
    // Two stored keys can decode to one name (`size` and `size:Number` written by another
    // door); the first wins so the answer and its MD5 stay deterministic.
    if (Object.hasOwn(selected, name)) continue;
    if (all || requested.includes(name) || prefixes.some((prefix) => name.startsWith(prefix))) {
      selected[name] = attribute;
    }
  }
  return selected;
}
