/**
 * Requests as the CMQ SDKs beyond Python and Java put them on the wire, built and signed here the
 * way each SDK builds and signs them (not with the door's code), for `sdk_*_test.ts`. Test-only.
 *
 * @module
 */
import { createHmac } from "node:crypto";
import { adminKey, ok, sdkSubscribeDefaults, setup } from "./_test_setup.ts";

export const host = "127.0.0.1:9876";

export function hmac(hash: "sha1" | "sha256", key: string, text: string): string {
  return createHmac(hash, key).update(text, "utf8").digest("base64");
}

/** Go's `url.QueryEscape`: unreserved `A-Za-z0-9-_.~` kept, space as "+", the rest %XX. */
export function goQueryEscape(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16)}`)
    .replaceAll("%20", "+").replace(/%[0-9a-f]{2}/g, (escape) => escape.toUpperCase());
}

/** PHP's `http_build_query` (RFC 1738): like Go's, with `~` escaped too. */
export function phpUrlencode(value: string): string {
  return goQueryEscape(value).replaceAll("~", "%7E");
}

export interface SdkRequest {
  method: "GET" | "POST";
  /** The request path (the PHP SDK's GET doubles it). */
  path?: string;
  params: Record<string, string>;
  /** Names of `params` left out of the signature (a "@" value). */
  unsigned?: string[];
  hash: "sha1" | "sha256";
  key?: string;
  encode: (value: string) => string;
  /** The host text the SDK signs (`http://cmqd.internal:9876` for one that keeps the scheme). */
  signedHost?: string;
  /** The Host header sent (an HTTP library leaves a default port out). */
  hostHeader?: string;
}

/** The common parameters every SDK adds, its signature, and the request. */
export function sdkRequest(nowMs: number, spec: SdkRequest): Request {
  const params: Record<string, string> = {
    Nonce: "4242",
    SecretId: adminKey.secretId,
    Timestamp: String(Math.floor(nowMs / 1000)),
    ...spec.params,
  };
  const signed = Object.keys(params).filter((name) => !spec.unsigned?.includes(name)).sort()
    .map((name) => `${name.replaceAll("_", ".")}=${params[name]}`).join("&");
  params.Signature = hmac(
    spec.hash,
    spec.key ?? adminKey.secretKey,
    `${spec.method}${spec.signedHost ?? host}/v2/index.php?${signed}`,
  );
  // Names go out as written (no SDK escapes them), values escaped.
  const encoded = Object.entries(params).map(([name, value]) => `${name}=${spec.encode(value)}`)
    .join("&");
  const path = spec.path ?? "/v2/index.php";
  const headers = { host: spec.hostHeader ?? host };
  return spec.method === "GET"
    ? new Request(`http://${host}${path}?${encoded}`, { headers })
    : new Request(`http://${host}${path}`, {
      method: "POST",
      headers,
      body: new TextEncoder().encode(encoded),
    });
}

export async function answer(
  door: { request: (r: Request) => Response | Promise<Response> },
  r: Request,
) {
  // deno-lint-ignore no-explicit-any
  return (await (await door.request(r)).json()) as Record<string, any>;
}

/** A topic `news` with the queue subscription `feed` (filter tag `a`), made by the admin. */
export async function topicWithSubscription() {
  const context = setup({ keys: [adminKey], topics: true });
  const { client } = context;
  ok(await client.call("CreateQueue", { queueName: "inbox" }));
  ok(await client.call("CreateTopic", { topicName: "news" }));
  for (const name of ["feed", "audit"]) {
    ok(
      await client.call("Subscribe", {
        topicName: "news",
        subscriptionName: name,
        protocol: "queue",
        endpoint: "inbox",
        "filterTag.1": "a",
        ...sdkSubscribeDefaults,
      }),
    );
  }
  return context;
}
