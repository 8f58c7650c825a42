/**
 * Checks of the broker's answers where the CLI reads them: an answer of another shape than the
 * API's (another service at that URL, a proxy's page in JSON, a broker of another version) is an
 * `UnexpectedResponse` naming what is off, never printed as if it were valid (`queue get` used to
 * print a table of `undefined` for `{}`, and exit 0) nor left to fail as a `TypeError`, which is
 * how a bug of the CLI's own shows (`main.ts`).
 *
 * @module
 */
import { CmqdError } from "../errors.ts";

/** A field's type: optional with a trailing `?`, `|null` when null is allowed. */
type Kind = "string" | "number" | "boolean" | "object";
type Field = Kind | `${Kind}?` | `${Kind}|null` | `${Kind}|null?` | Shape | [Shape];
/** The fields of an object the CLI reads: a nested object, or `[shape]` for a list of them. */
export interface Shape {
  [field: string]: Field;
}

/** Throws `UnexpectedResponse` unless `value` is an object with `shape`'s fields; answers it. */
export function checkAnswer<T>(value: T, what: string, shape: Shape): T {
  const reason = mismatch(value, shape, "");
  if (reason !== undefined) {
    throw new CmqdError("UnexpectedResponse", `the answer to ${what} is not the API's: ${reason}`, {
      status: 200,
    });
  }
  return value;
}

/** What is off in `value` (at `path`), or undefined when it has the shape. */
function mismatch(value: unknown, shape: Shape, path: string): string | undefined {
  if (!isObject(value)) return `${path || "it"} is ${describe(value)}, not an object`;
  for (const [name, field] of Object.entries(shape)) {
    const at = path === "" ? name : `${path}.${name}`;
    const item = (value as Record<string, unknown>)[name];
    const reason = Array.isArray(field)
      ? listMismatch(item, field[0], at)
      : typeof field === "object"
      ? mismatch(item, field, at)
      : kindMismatch(item, field, at);
    if (reason !== undefined) return reason;
  }
  return undefined;
}

function listMismatch(value: unknown, shape: Shape, path: string): string | undefined {
  if (!Array.isArray(value)) return `${path} is ${describe(value)}, not a list`;
  for (const [index, item] of value.entries()) {
    const reason = mismatch(item, shape, `${path}[${index}]`);
    if (reason !== undefined) return reason;
  }
  return undefined;
}

function kindMismatch(value: unknown, field: string, path: string): string | undefined {
  if (value === undefined && field.endsWith("?")) return undefined;
  if (value === null && field.includes("|null")) return undefined;
  const kind = field.replace(/[|?].*$/, "");
  const fits = kind === "object" ? isObject(value) : kindOf(value) === kind;
  return fits ? undefined : `${path} is ${describe(value)}, not ${article(kind)} ${kind}`;
}

function kindOf(value: unknown): string {
  return typeof value;
}

function isObject(value: unknown): boolean {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === undefined) return "missing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  return typeof value === "object" ? "an object" : `${typeof value} ${JSON.stringify(value)}`;
}

function article(kind: string): string {
  return kind === "object" ? "an" : "a";
}

/** A queue, as `queue get`, `create` and `list` print it. */
export const queueShape: Shape = {
  name: "string",
  fifo: "boolean",
  activeMessages: "number",
  inflightMessages: "number",
  delayedMessages: "number",
  rewindableMessages: "number",
  oldestMessageAt: "number|null",
  visibilityTimeoutSeconds: "number",
  pollingWaitSeconds: "number",
  maxMessageBytes: "number",
  retentionSeconds: "number",
  rewindSeconds: "number",
  maxBacklog: "number",
  deadLetter: "object|null?",
  createdAt: "number",
  modifiedAt: "number",
};

/** A received message, as `receive` and `tail` print it. */
export const messageShape: Shape = {
  id: "string",
  sequence: "number",
  body: "string",
  receiptHandle: "string",
  enqueuedAt: "number",
  receiveCount: "number",
  groupId: "string?",
};

/** The answer to a delete of receipt handles. */
export const deleteShape: Shape = {
  deleted: "number",
  failures: [{ receiptHandle: "string", code: "string", message: "string", gone: "boolean?" }],
};

/** The cluster, as `cluster status` prints it. */
export const clusterShape: Shape = {
  nodeId: "string",
  role: "string",
  leaderId: "string|null",
  term: "number",
  commitIndex: "number",
  appliedIndex: "number",
  nodes: [{
    id: "string",
    role: "string",
    url: "string|null",
    matchIndex: "number|null",
    lag: "number|null",
  }],
};

/** A topic, as `topic create` prints it. */
export const topicShape: Shape = {
  name: "string",
  filterType: "string",
  maxMessageBytes: "number",
  retentionSeconds: "number",
};

/** Throws `UnexpectedResponse` unless a batch answer lists exactly `count` entries. */
export function checkCount<T>(list: T[], count: number, what: string): T[] {
  if (list.length === count) return list;
  throw new CmqdError(
    "UnexpectedResponse",
    `the answer to ${what} is not the API's: ${list.length} entries for ${count} sent`,
    { status: 200 },
  );
}
