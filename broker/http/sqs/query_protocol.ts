/**
 * Reading a request of SQS's query protocol: `Action=SendMessage&Version=2012-11-05&QueueUrl=…`
 * as a form body (`application/x-www-form-urlencoded`) or a query string, its lists and maps
 * flattened (`query_shapes.ts`). The parameters become the JSON door's input for the same
 * operation (`Attribute.1.Name=A&Attribute.1.Value=1` → `{"Attributes": {"A": "1"}}`), which the
 * JSON door's operations then serve as they serve JSON.
 *
 * Refused, before any operation runs (so nothing changes):
 * - text that is not form encoding (bad percent escapes, bytes that are not UTF-8, a parameter
 *   without a name): `MalformedQueryString`;
 * - a parameter given twice, a name the operation does not have, list or map items not numbered
 *   1, 2, 3… (`Attribute.0.Name`, `AttributeName.02`, a gap): `InvalidQueryParameter`;
 * - no `Action`: `MissingAction`; an `Action` naming no operation: `InvalidAction`; one cmqd
 *   does not offer: `UnsupportedOperation`;
 * - an integer parameter that is not an integer, a map key given twice: `InvalidParameterValue`;
 * - a map entry without its key or value: `MissingParameter`.
 *
 * @module
 */
import { invalidValue, missingParameter, SqsError } from "./errors.ts";
import type { JsonObject } from "./input.ts";
import { queueFromUrl } from "./queue_names.ts";
import {
  type ListShape,
  type MapShape,
  type QueryOperation,
  queryOperations,
  type Shape,
  type StructShape,
  wireName,
} from "./query_shapes.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true });

function malformed(message: string): SqsError {
  return new SqsError("MalformedQueryString", message);
}

function invalidParameter(message: string): SqsError {
  return new SqsError("InvalidQueryParameter", message);
}

function decodePart(text: string): string {
  try {
    return decodeURIComponent(text.replaceAll("+", " "));
  } catch {
    throw malformed(
      `${text.slice(0, 100)} is not form encoding: a % must start an escape of UTF-8 bytes.`,
    );
  }
}

/** The UTF-8 text of a form body; bytes that are not UTF-8 are refused, never replaced. */
export function formText(body: Uint8Array): string {
  try {
    return utf8.decode(body);
  } catch {
    throw malformed("The request body is not valid UTF-8.");
  }
}

/**
 * Parameters a request may carry, body and query string together: the largest an SDK sends is
 * about 390 (SendMessageBatch: 10 entries of 10 message attributes, 3 parameters each, and their
 * other members), so a request over the bound is refused before its parameters are walked.
 */
export const queryParametersMax = 1000;

/**
 * Adds the parameters of form-encoded `text` (a body, or a query string without its `?`) to
 * `params`. A name already there is refused: the protocol gives each parameter once. Read one
 * at a time, up to `queryParametersMax` in `params`: the rest of a longer text is never split or
 * decoded.
 */
export function addFormParameters(text: string, params: Map<string, string>): void {
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf("&", start);
    if (end < 0) end = text.length;
    const part = text.slice(start, end);
    start = end + 1;
    if (part === "") continue;
    if (params.size === queryParametersMax) {
      throw invalidParameter(
        `The request has more than ${queryParametersMax} parameters; no operation takes that many.`,
      );
    }
    const split = part.indexOf("=");
    const name = decodePart(split < 0 ? part : part.slice(0, split));
    const value = split < 0 ? "" : decodePart(part.slice(split + 1));
    if (name === "") throw malformed("A parameter has no name.");
    if (params.has(name)) {
      throw invalidParameter(`The parameter ${name.slice(0, 200)} is given more than once.`);
    }
    params.set(name, value);
  }
}

/** The parameters by the dotted parts of their names (`Attribute` → `1` → `Name`). */
interface ParamNode {
  path: string;
  value?: string;
  used: boolean;
  children?: Map<string, ParamNode>;
}

function paramTree(params: Map<string, string>): ParamNode {
  const root: ParamNode = { path: "", used: true };
  for (const [name, value] of params) {
    let node = root;
    for (const part of name.split(".")) {
      if (part === "") {
        throw invalidParameter(`${name.slice(0, 200)} is not a parameter name: an empty part.`);
      }
      node.children ??= new Map();
      let child = node.children.get(part);
      if (child === undefined) {
        child = { path: node.path === "" ? part : `${node.path}.${part}`, used: false };
        node.children.set(part, child);
      }
      node = child;
    }
    node.value = value;
  }
  return root;
}

/** Sets `key` as an own property, as `JSON.parse` does (`__proto__` included). */
function define(target: JsonObject, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

const indexPattern = /^[1-9]\d{0,5}$/;

/** The items of a flattened list or map under `node`, numbered 1, 2, 3… without a gap. */
function numberedItems(node: ParamNode): ParamNode[] {
  const items: ParamNode[] = [];
  for (const [index, child] of node.children ?? []) {
    if (!indexPattern.test(index)) {
      throw invalidParameter(
        `${child.path.slice(0, 200)}: the items of ${node.path} are numbered 1, 2, 3…`,
      );
    }
    items[Number(index) - 1] = child;
  }
  for (let index = 0; index < items.length; index++) {
    if (items[index] === undefined) {
      throw invalidParameter(
        `${node.path}.${index + 1} is missing: the items of ${node.path} are numbered 1, 2, 3… ` +
          `without a gap.`,
      );
    }
  }
  return items;
}

function readScalar(node: ParamNode, shape: "string" | "integer" | "boolean"): unknown {
  if (node.value === undefined) return undefined;
  node.used = true;
  if (shape === "string") return node.value;
  if (shape === "integer") {
    if (!/^[+-]?\d{1,20}$/.test(node.value)) {
      throw invalidValue(node.path, node.value, "Must be an integer.");
    }
    return Number(node.value);
  }
  if (node.value !== "true" && node.value !== "false") {
    throw invalidValue(node.path, node.value, "Must be true or false.");
  }
  return node.value === "true";
}

function readList(node: ParamNode, shape: ListShape): unknown[] {
  return numberedItems(node).map((item) => readShape(item, shape.of));
}

function readMap(node: ParamNode, shape: MapShape): JsonObject {
  const result: JsonObject = {};
  const keyPaths = new Map<string, string>();
  for (const entry of numberedItems(node)) {
    const keyNode = entry.children?.get(shape.key);
    const valueNode = entry.children?.get(shape.value);
    if (keyNode?.value === undefined) throw missingParameter(`${entry.path}.${shape.key}`);
    if (valueNode === undefined) throw missingParameter(`${entry.path}.${shape.value}`);
    const key = readScalar(keyNode, "string") as string;
    const earlier = keyPaths.get(key);
    if (earlier !== undefined) {
      throw invalidValue(keyNode.path, key, `${earlier} names it already.`);
    }
    keyPaths.set(key, keyNode.path);
    const value = readShape(valueNode, shape.of);
    if (value === undefined) throw missingParameter(valueNode.path);
    define(result, key, value);
  }
  return result;
}

function readStruct(node: ParamNode, shape: StructShape): JsonObject {
  const result: JsonObject = {};
  for (const [member, memberShape] of Object.entries(shape.members)) {
    const name = wireName(member, memberShape);
    const child = node.children?.get(name);
    const value = child === undefined ? undefined : readShape(child, memberShape);
    if (value !== undefined) {
      define(result, member, value);
      continue;
    }
    // An empty list is sent as one parameter without a value, named as its items
    // (`AttributeName=`, aws-sdk v2) or as the member (`AttributeNames=`, botocore).
    if (typeof memberShape === "string" || memberShape.kind !== "list") continue;
    for (const empty of new Set([child, node.children?.get(member)])) {
      if (empty?.value === "" && empty.children === undefined) {
        empty.used = true;
        define(result, member, []);
      }
    }
  }
  return result;
}

function readShape(node: ParamNode, shape: Shape): unknown {
  if (typeof shape === "string") return readScalar(node, shape);
  if (node.children === undefined) return undefined; // a bare name: left for `firstUnused`
  if (shape.kind === "list") return readList(node, shape);
  if (shape.kind === "map") return readMap(node, shape);
  return readStruct(node, shape);
}

/** The first parameter (in request order) that no member read. */
function firstUnused(node: ParamNode): ParamNode | undefined {
  if (node.value !== undefined && !node.used) return node;
  for (const child of node.children?.values() ?? []) {
    const found = firstUnused(child);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** SQS operations cmqd knows and does not offer (a client gets `UnsupportedOperation`). */
export const unsupportedOperations: ReadonlySet<string> = new Set([
  "AddPermission",
  "RemovePermission",
]);

/** A query request read: the operation's name and shapes, and its input in the JSON door's terms. */
export interface QueryRequest {
  action: string;
  operation: QueryOperation;
  input: JsonObject;
}

/**
 * Reads the parameters of a query request. `path` is the request's path: a queue URL's path
 * (`/000000000000/jobs`, where the AWS SDKs send a request about a queue) stands for the
 * QueueUrl parameter when there is none, and must name the same queue when there is one.
 */
export function readQueryRequest(params: Map<string, string>, path: string): QueryRequest {
  const action = params.get("Action");
  if (action === undefined || action === "") {
    throw new SqsError("MissingAction", "The request must contain the parameter Action.");
  }
  if (unsupportedOperations.has(action)) {
    throw new SqsError("UnsupportedOperation", `cmqd does not support ${action}.`);
  }
  if (!Object.hasOwn(queryOperations, action)) {
    throw new SqsError(
      "InvalidAction",
      `The action ${action.slice(0, 100)} is not valid for this endpoint.`,
    );
  }
  const operation = queryOperations[action];
  const tree = paramTree(params);
  for (const name of ["Action", "Version"]) {
    const node = tree.children?.get(name);
    if (node !== undefined) node.used = true;
  }
  const input = readStruct(tree, operation.input);
  const unused = firstUnused(tree);
  if (unused !== undefined) {
    throw invalidParameter(`${unused.path.slice(0, 200)} is not a parameter of ${action}.`);
  }
  if (path !== "/" && path !== "" && Object.hasOwn(operation.input.members, "QueueUrl")) {
    const given = input.QueueUrl;
    if (given === undefined || given === "") {
      input.QueueUrl = path;
    } else if (queueFromUrl(given as string).sqsName !== queueFromUrl(path).sqsName) {
      throw invalidValue(
        "QueueUrl",
        given,
        `The request was sent to the URL of another queue (${path.slice(0, 100)}).`,
      );
    }
  }
  return { action, operation, input };
}
