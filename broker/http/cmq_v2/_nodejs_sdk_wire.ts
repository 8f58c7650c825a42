/**
 * Requests byte for byte as the Node.js SDK `cmq-nodejs-sdk` (npm, its `dist/` build) puts them
 * on the wire, for `sdk_nodejs_test.ts`. Written from what that SDK does, not with the door's
 * code:
 *
 * - its client adds to the caller's parameter object, in this order, `Action`, `RequestClient`
 *   (`CMQ_NODEJS_SDK_1.3`), `SecretId`, `Nonce` (`Math.random()`, a number such as
 *   `0.8133200150657327`), `Timestamp` (`new Date().getTime()`, milliseconds, a number) and
 *   `SignatureMethod` (`HmacSHA1`, or `HmacSHA256` after `setSignatureMethod("sha256")`);
 * - it signs `POST` + the endpoint as written, `https://` taken off, + `/v2/index.php` + `?` +
 *   `name=value` for every parameter but `Signature`, names sorted, each value as JavaScript
 *   writes it in a template (`undefined` for a key whose value is undefined), string values
 *   starting with "@" left out, "_" → "." in names;
 * - it posts the object through axios 0.18 (`^0.18.0`), whose default request transform writes
 *   a plain object as `JSON.stringify` text (keys in insertion order, undefined values dropped)
 *   and keeps the `content-type: application/x-www-form-urlencoded` the client set: a JSON body
 *   under a form content type.
 *
 * Test-only.
 *
 * @module
 */
import { createHmac } from "node:crypto";
import { adminKey } from "./_test_setup.ts";

/** A parameter value as an application hands it to the SDK. */
export type NodeValue = string | number | boolean | undefined;

export interface NodeSdkCall {
  /** The endpoint as the application wrote it (default `http://127.0.0.1:9876`). */
  endpoint?: string;
  /** `setSignatureMethod("sha256")` called (default: not, HmacSHA1). */
  sha256?: boolean;
  /** The key the request is signed with (default: the admin key's). */
  secretKey?: string;
  /** `Math.random()`'s draw (default 0.8133200150657327). */
  nonce?: number;
  /** The `RequestClient` (the client's `version` argument; default `CMQ_NODEJS_SDK_1.3`). */
  version?: string;
}

/** The Host header Node's `http` sends for `url`: the host, with the port unless the default. */
function nodeHostHeader(url: URL): string {
  return url.host; // WHATWG URL already leaves a scheme's default port out, as Node does.
}

/** `key=value` as a template literal writes it (`${value}`). */
function templateText(value: NodeValue): string {
  return `${value}`;
}

/**
 * The request `CMQClient.request(action, params)` sends at `nowMs` (its clock): the object
 * completed and signed as the SDK does, then serialised as axios 0.18 does.
 */
export function nodeSdkWire(
  nowMs: number,
  action: string,
  params: Record<string, NodeValue>,
  call: NodeSdkCall = {},
): Request {
  const endpoint = call.endpoint ?? "http://127.0.0.1:9876";
  const signatureMethod = call.sha256 === true ? "HmacSHA256" : "HmacSHA1";
  const all: Record<string, NodeValue> = { ...params };
  all.Action = action;
  all.RequestClient = call.version ?? "CMQ_NODEJS_SDK_1.3";
  all.SecretId = adminKey.secretId;
  all.Nonce = call.nonce ?? 0.8133200150657327;
  all.Timestamp = nowMs;
  all.SignatureMethod = signatureMethod;
  const keys = Object.keys(all).filter((key) => {
    const value = all[key];
    return key !== "Signature" && !(typeof value === "string" && value.startsWith("@"));
  }).sort();
  let paramText = "";
  keys.forEach((key, index) => {
    const signedKey = key.replace(/_/g, ".");
    // The SDK looks the value up under the rewritten name.
    paramText += `${index === 0 ? "?" : "&"}${signedKey}=${templateText(all[signedKey])}`;
  });
  const url = `${endpoint}/v2/index.php`;
  const plainText = `POST${url.replace(/^https:\/\//i, "")}${paramText}`;
  all.Signature = createHmac(
    signatureMethod === "HmacSHA1" ? "sha1" : "sha256",
    call.secretKey ?? adminKey.secretKey,
  ).update(plainText).digest("base64");
  const target = new URL(url);
  return new Request(url, {
    method: "POST",
    headers: {
      host: nodeHostHeader(target),
      accept: "application/json, text/plain, */*",
      "content-type": "application/x-www-form-urlencoded",
      "user-agent": "axios/0.18.1",
    },
    body: new TextEncoder().encode(JSON.stringify(all)),
  });
}

/**
 * The parameters the SDK's `Queue.create(meta)` hands its client: the five attributes always
 * (undefined when `meta` lacks them), `maxMsgHeapNum` only when above 0.
 */
export function queueCreateParams(
  queueName: string,
  meta: Partial<Record<string, number>>,
): Record<string, NodeValue> {
  const params: Record<string, NodeValue> = {
    queueName,
    pollingWaitSeconds: meta.pollingWaitSeconds,
    visibilityTimeout: meta.visibilityTimeout,
    maxMsgSize: meta.maxMsgSize,
    msgRetentionSeconds: meta.msgRetentionSeconds,
    rewindSeconds: meta.rewindSeconds,
  };
  if (meta.maxMsgHeapNum != null && meta.maxMsgHeapNum > 0) {
    params.maxMsgHeapNum = meta.maxMsgHeapNum;
  }
  return params;
}
