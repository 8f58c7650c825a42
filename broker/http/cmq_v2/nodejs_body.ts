/**
 * The request body of the Node.js SDK `cmq-nodejs-sdk` (npm). It posts its parameter object
 * through axios 0.18, which writes a plain object as JSON text and keeps the
 * `content-type: application/x-www-form-urlencoded` the SDK set: its body is
 * `{"queueName":"jobs","msgBody":"hi","delaySeconds":0,"Action":"SendMessage",…}`, numbers as
 * JSON numbers (`Nonce` a fraction, `Timestamp` in milliseconds). It signed each value as
 * JavaScript writes it in a template (`${value}`), which is what `String` gives back for the
 * string, number and boolean values JSON carries, so the signature checks as for a form.
 *
 * A POST body starting with `{` is read this way (a form's first name never starts with `{`),
 * and only when its `RequestClient` names that SDK (`CMQ_NODEJS_SDK_…`); any other client gets
 * 4000 `(10000)`. Values that are objects, arrays or null (the SDK would have signed
 * `[object Object]`, `a,b` or `null`) and strings that are not well-formed UTF-16 are 4000
 * `(10110)` naming the parameter; a name given twice (in the query and the body) `(10330)`.
 *
 * @module
 */
import { invalidParameter, moduleCode } from "./errors.ts";
import { CmqParams, parametersMax, parseParams } from "./params.ts";

/** True when a POST body's text is a JSON object, the form `cmq-nodejs-sdk` sends. */
export function isJsonBody(text: string): boolean {
  return text.startsWith("{");
}

/** True when `RequestClient` names the Node.js SDK `cmq-nodejs-sdk` (`CMQ_NODEJS_SDK_…`). */
export function namesNodeSdk(params: CmqParams): boolean {
  return params.get("RequestClient")?.toLowerCase().startsWith("cmq_nodejs_sdk") ?? false;
}

function valueText(name: string, value: unknown): string {
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (typeof value !== "string") {
    const kind = value === null ? "null" : Array.isArray(value) ? "an array" : "an object";
    throw invalidParameter(
      moduleCode.parameterError,
      `parameter ${name.slice(0, 64)} error: ${kind} in the JSON body (send a string or a number)`,
    );
  }
  if (!value.isWellFormed()) {
    throw invalidParameter(
      moduleCode.parameterError,
      `parameter ${name.slice(0, 64)} error: not UTF-8 text (a lone surrogate escape)`,
    );
  }
  return value;
}

/**
 * The parameters of a request whose body is `cmq-nodejs-sdk`'s JSON text: the query string's
 * (none, from that SDK) and the body's, in the body's order.
 */
export function parseJsonBody(query: string, text: string): CmqParams {
  const values = new Map(parseParams(query, "").entries());
  let object: unknown;
  try {
    object = JSON.parse(text);
  } catch (error) {
    throw invalidParameter(
      moduleCode.invalidRequest,
      `the request body starts with "{" but is not JSON (${(error as Error).message})`,
    );
  }
  if (typeof object !== "object" || object === null || Array.isArray(object)) {
    throw invalidParameter(moduleCode.invalidRequest, "the JSON request body is not an object");
  }
  const entries = Object.entries(object);
  if (values.size + entries.length > parametersMax) {
    throw invalidParameter(
      moduleCode.invalidRequest,
      `invalid request parameters: more than ${parametersMax} parameters`,
    );
  }
  for (const [name, value] of entries) {
    if (values.has(name)) {
      throw invalidParameter(
        moduleCode.notRepeatable,
        `parameter ${name.slice(0, 64)} is NOT a repeatable parameter`,
      );
    }
    values.set(name, valueText(name, value));
  }
  const params = new CmqParams(values);
  if (!namesNodeSdk(params)) {
    throw invalidParameter(
      moduleCode.invalidRequest,
      "a JSON request body is read only from the Node.js SDK cmq-nodejs-sdk (RequestClient " +
        "CMQ_NODEJS_SDK_…); send the parameters form-encoded (name=value&…)",
    );
  }
  return params;
}

/** The attributes the SDK's `Queue.create` always puts in its object, undefined when not given. */
const queueCreateAttributes = [
  "pollingWaitSeconds",
  "visibilityTimeout",
  "maxMsgSize",
  "msgRetentionSeconds",
  "rewindSeconds",
];

/**
 * The names a `cmq-nodejs-sdk` request read from its JSON body (`parseJsonBody`) may have
 * signed as `name=undefined` without sending them: its `Queue.create` sets each of five queue
 * attributes, undefined when the application gave none, and signs `${undefined}`, while
 * `JSON.stringify` drops them from the body. For its CreateQueue, those of the five the body
 * lacks; none for anything else. Signed as that text, they cover nothing sent.
 */
export function undefinedSignedNames(params: CmqParams): string[] {
  if (params.get("Action") !== "CreateQueue") return [];
  return queueCreateAttributes.filter((name) => params.get(name) === undefined);
}
