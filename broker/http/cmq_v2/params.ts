/**
 * The parameters of one CMQ request and their readers. A request's parameters are the query
 * string and, on POST, the form-encoded body, merged; every reader throws CMQ's 4000 with the
 * module code CMQ uses for that mistake, so an action reads its input in a few lines.
 *
 * List parameters are numbered (`msgBody.1`, `msgBody.2`, …). CMQ's documentation allows the
 * numbering to start at 0 or 1; either way the indices must be contiguous.
 *
 * @module
 */
import { invalidParameter, moduleCode } from "./errors.ts";
import { namePattern, type Range } from "./deps.ts";

/**
 * More parameters than any CMQ action takes (16 list entries plus about 15 others); a request
 * with more is refused before anything walks them.
 */
export const parametersMax = 128;

/**
 * A parsed request: each parameter name once, with its decoded value. Names are read as
 * `readName` says (the Go SDK's ListSubscriptionByTopic sends `offset `, its
 * SetSubscriptionAttributes `subscriptionName `; the C++ SDK's Subscribe `filterTag,1`); the
 * signature covers them as sent (`signedEntries`).
 */
export class CmqParams {
  readonly #values: Map<string, string>;
  readonly #sent: Map<string, string>;

  /** `sent`: the names as the request spelled them, when any differs from `values`' names. */
  constructor(values: Map<string, string>, sent: Map<string, string> = values) {
    this.#values = values;
    this.#sent = sent;
  }

  /** The value of `name`, or undefined when the request does not carry it. */
  get(name: string): string | undefined {
    return this.#values.get(name);
  }

  /** Every parameter in request order, by the name it is read as. */
  entries(): IterableIterator<[string, string]> {
    return this.#values.entries();
  }

  /** Every parameter in request order under its name as sent (what the signature covers). */
  signedEntries(): IterableIterator<[string, string]> {
    return this.#sent.entries();
  }

  /**
   * The first of `names` (spellings of one parameter) that the request carries; the first of
   * them when it carries none.
   */
  spelling<T extends string>(first: T, ...others: T[]): T {
    if (this.#values.has(first)) return first;
    return others.find((name) => this.#values.has(name)) ?? first;
  }

  /** The parameter names in request order, as read. */
  names(): IterableIterator<string> {
    return this.#values.keys();
  }
}

/**
 * The name a parameter is read as: without trailing spaces, and `filterTag,N` / `bindingKey,N`
 * as `filterTag.N` / `bindingKey.N` (the C++ SDK's Subscribe, built as C++11 or later, writes
 * a comma there).
 */
export function readName(name: string): string {
  const read = name.endsWith(" ") ? name.replace(/ +$/, "") : name;
  return read.includes(",") ? read.replace(/^(filterTag|bindingKey),(?=[0-9]+$)/, "$1.") : read;
}

/**
 * Parses the query string and the form body (either may be empty) into one parameter set.
 * A name given twice, in one part or across both, is refused: which value was signed and
 * which is meant would be a guess. So is a name given both as sent and as read (`offset` and
 * `offset `).
 *
 * @example
 * ```ts
 * const params = parseParams("?Action=SendMessage", "queueName=jobs&msgBody=hi");
 * params.get("msgBody"); // "hi"
 * ```
 */
export function parseParams(query: string, body: string): CmqParams {
  const values = new Map<string, string>();
  // Made at the first name with a trailing space; until then, every name is as sent.
  let sent: Map<string, string> | undefined;
  for (const part of [query, body]) {
    for (const [sentName, value, piece] of formPieces(part)) {
      if (sentName.includes("\uFFFD") || value.includes("\uFFFD")) requireUtf8(sentName, piece);
      const name = readName(sentName);
      if (name !== sentName) sent ??= new Map(values);
      if (values.has(name)) {
        throw invalidParameter(
          moduleCode.notRepeatable,
          `parameter ${name} is NOT a repeatable parameter`,
        );
      }
      if (values.size === parametersMax) {
        throw invalidParameter(
          moduleCode.invalidRequest,
          `invalid request parameters: more than ${parametersMax} parameters`,
        );
      }
      values.set(name, value);
      sent?.set(sentName, value);
    }
  }
  return new CmqParams(values, sent);
}

/**
 * The name/value pairs of a form-encoded string, as `URLSearchParams` reads them, one at a time:
 * `parseParams` stops at the first repeated name or the 129th parameter, so a body of a million
 * pairs costs what its first few do (nothing is split or decoded ahead). The common piece —
 * every percent escape an ASCII byte — is decoded here, about 15× faster than `URLSearchParams`
 * on a 16 KB batch (which copies the text out to Rust and back); any other piece (an escape of a
 * non-ASCII byte, a malformed escape, text that is not well-formed UTF-16) goes to
 * `URLSearchParams` alone, so every pair is the standard one.
 */
export function* formPairs(part: string): Generator<[string, string]> {
  for (const [name, value] of formPieces(part)) yield [name, value];
}

/** `formPairs` with each pair's piece of `part` as sent (`name=value`, escapes undecoded). */
function* formPieces(part: string): Generator<[string, string, string]> {
  let start = part.startsWith("?") ? 1 : 0;
  while (start <= part.length) {
    let end = part.indexOf("&", start);
    if (end < 0) end = part.length;
    const piece = part.slice(start, end);
    start = end + 1;
    if (piece !== "") yield [...pairOf(piece), piece];
  }
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const utf8Encoder = new TextEncoder();

/** Whether the bytes `encoded` stands for (its percent escapes decoded) are UTF-8. */
function escapesAreUtf8(encoded: string): boolean {
  const sent = utf8Encoder.encode(encoded);
  const bytes = new Uint8Array(sent.length);
  let length = 0;
  for (let at = 0; at < sent.length; at++) {
    const high = sent[at] === 37 ? hexDigit(sent[at + 1]) : -1;
    const low = high < 0 ? -1 : hexDigit(sent[at + 2]);
    if (low < 0) {
      bytes[length++] = sent[at];
    } else {
      bytes[length++] = high * 16 + low;
      at += 2;
    }
  }
  try {
    strictUtf8.decode(bytes.subarray(0, length));
    return true;
  } catch {
    return false;
  }
}

/**
 * Refuses a pair (`name` as decoded, `piece` as sent) holding a U+FFFD that stands for bytes
 * that are not UTF-8 (a GBK or Latin-1 string escaped byte by byte), rather than take another
 * text than was sent. A U+FFFD sent as such (`%EF%BF%BD`) is text like any other.
 */
function requireUtf8(name: string, piece: string): void {
  const equals = piece.indexOf("=");
  const [sentName, sentValue] = equals < 0
    ? [piece, ""]
    : [piece.slice(0, equals), piece.slice(equals + 1)];
  if (escapesAreUtf8(sentName) && escapesAreUtf8(sentValue)) return;
  throw invalidParameter(
    moduleCode.parameterError,
    `parameter ${readName(name).slice(0, 64)} error: not UTF-8 text (its percent escapes ` +
      "decode to bytes that are not UTF-8; send text as UTF-8)",
  );
}

/** One non-empty piece (no `&`) as a pair. */
function pairOf(piece: string): [string, string] {
  if (piece.isWellFormed()) {
    const equals = piece.indexOf("=");
    const name = decodeAsciiEscapes(equals < 0 ? piece : piece.slice(0, equals));
    const value = equals < 0 ? "" : decodeAsciiEscapes(piece.slice(equals + 1));
    if (name !== null && value !== null) return [name, value];
  }
  // A piece without `&` is exactly one pair to URLSearchParams (after the `&`, which keeps a
  // leading `?` from being taken for the query's).
  for (const pair of new URLSearchParams("&" + piece)) return pair;
  return [piece, ""];
}

function hexDigit(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  const lower = code | 32;
  return lower >= 97 && lower <= 102 ? lower - 87 : -1;
}

/** `+` as space and `%XX` of bytes below 0x80 decoded; null for any other escape. */
function decodeAsciiEscapes(text: string): string | null {
  const spaced = text.includes("+") ? text.replaceAll("+", " ") : text;
  let at = spaced.indexOf("%");
  if (at < 0) return spaced;
  let decoded = "";
  let copied = 0;
  while (at >= 0) {
    const high = hexDigit(spaced.charCodeAt(at + 1));
    const low = hexDigit(spaced.charCodeAt(at + 2));
    if (high < 0 || high > 7 || low < 0) return null;
    decoded += spaced.slice(copied, at) + String.fromCharCode(high * 16 + low);
    copied = at + 3;
    at = spaced.indexOf("%", copied);
  }
  return decoded + spaced.slice(copied);
}

function missing(name: string) {
  return invalidParameter(moduleCode.missingParameter, `lacked of required parameter ${name}`);
}

/** CMQ's (10350) for `name` outside `range`; `note` adds what else is taken. */
export function outOfRange(name: string, range: { min: number; max: number }, note = "") {
  return invalidParameter(
    moduleCode.outOfRange,
    `parameter ${name} value or length is out of range (${range.min}-${range.max}${note})`,
  );
}

/** The value of a required parameter (empty counts as given). */
export function requiredText(params: CmqParams, name: string): string {
  const value = params.get(name);
  if (value === undefined) throw missing(name);
  return value;
}

/** Decimal integers as the SDKs write them (`Integer.toString`, `str(int)`). */
const integerPattern = /^-?[0-9]{1,15}$/;

function parseInteger(name: string, text: string): number {
  if (!integerPattern.test(text)) {
    throw invalidParameter(moduleCode.wrongType, `parameter ${name} error type: not an integer`);
  }
  return Number(text);
}

/**
 * The integer value of `name` within `range`, or undefined when absent. Not an integer →
 * (10360); outside the range → (10350).
 */
export function optionalInteger(
  params: CmqParams,
  name: string,
  range: { min: number; max: number },
): number | undefined {
  const text = params.get(name);
  if (text === undefined) return undefined;
  const value = parseInteger(name, text);
  if (value < range.min || value > range.max) throw outOfRange(name, range);
  return value;
}

/** The integer value of a required parameter within `range`. */
export function requiredInteger(
  params: CmqParams,
  name: string,
  range: { min: number; max: number },
): number {
  const value = optionalInteger(params, name, range);
  if (value === undefined) throw missing(name);
  return value;
}

/**
 * An integer at least `min`, clamped to `max`: for a value old clients send beyond CMQ's
 * documented range and CMQ accepted (a long-poll wait of more than 30 seconds).
 */
export function clampedInteger(
  params: CmqParams,
  name: string,
  range: Range,
): number | undefined {
  const text = params.get(name);
  if (text === undefined) return undefined;
  const value = parseInteger(name, text);
  if (value < range.min) throw outOfRange(name, range);
  return Math.min(value, range.max);
}

/** The `queueName` parameter, checked against the naming rule. */
export function queueNameParam(params: CmqParams): string {
  return nameParam(params, "queueName");
}

/**
 * A required name parameter (`queueName`, `topicName`, `subscriptionName`, a queue
 * `endpoint`), checked against cmqd's naming rule.
 */
export function nameParam(params: CmqParams, field: string): string {
  const name = requiredText(params, field);
  if (name.length === 0 || name.length > 64) throw outOfRange(field, { min: 1, max: 64 });
  if (!namePattern.test(name)) {
    throw invalidParameter(
      moduleCode.parameterError,
      `parameter ${field} error: a letter, then letters, digits, '-' or '_'`,
    );
  }
  return name;
}

/** Index suffixes as clients write them: no sign, no leading zeros. */
const indexPattern = /^(0|[1-9][0-9]{0,5})$/;

/**
 * The values of the numbered list `base.0|1 … base.n` in index order. At least one and at
 * most `entriesMax` entries (else (10390) / (10370)); a malformed index (10310); a gap, or a
 * start other than 0 or 1 (10380).
 *
 * @example
 * ```ts
 * numberedList(parseParams("", "msgBody.1=a&msgBody.2=b"), "msgBody", 16); // ["a", "b"]
 * ```
 */
export function numberedList(params: CmqParams, base: string, entriesMax: number): string[] {
  const prefix = `${base}.`;
  const entries: [number, string][] = [];
  for (const [name, value] of params.entries()) {
    if (!name.startsWith(prefix)) continue;
    const suffix = name.slice(prefix.length);
    if (!indexPattern.test(suffix)) {
      throw invalidParameter(moduleCode.keyFormat, `error: parameter ${name} key format error`);
    }
    entries.push([Number(suffix), value]);
  }
  if (entries.length === 0) throw missing(`${base}.n`);
  if (entries.length > entriesMax) {
    throw invalidParameter(
      moduleCode.batchSizeOutOfRange,
      `${base} parameter batch size is out of range (${entries.length} entries, at most ${entriesMax})`,
    );
  }
  entries.sort((left, right) => left[0] - right[0]);
  const first = entries[0][0];
  const contiguous = first <= 1 && entries.every(([index], position) => index === first + position);
  if (!contiguous) {
    throw invalidParameter(
      moduleCode.notContiguous,
      `${base} parameter is not consequent (indices must run from 0 or 1 without gaps)`,
    );
  }
  return entries.map(([, value]) => value);
}

/** Like `numberedList`, but an absent list (no `base.n` at all) is undefined. */
export function optionalNumberedList(
  params: CmqParams,
  base: string,
  entriesMax: number,
): string[] | undefined {
  const prefix = `${base}.`;
  for (const name of params.names()) {
    if (name.startsWith(prefix)) return numberedList(params, base, entriesMax);
  }
  return undefined;
}
