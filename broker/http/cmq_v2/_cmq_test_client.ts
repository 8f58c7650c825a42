/**
 * A CMQ client for the door's tests that puts on the wire exactly what Tencent's official SDKs
 * put there: the action's parameters plus `Action`, `RequestClient`, `SecretId`, `Nonce`,
 * `Timestamp`, `SignatureMethod`; the signature over `METHOD + host + /v2/index.php + ?` and
 * the parameters sorted by name (`_` → `.`, values raw); a form body POSTed with no
 * Content-Type (Python, PHP) or with okhttp's `*\/*` (Java), or a GET query string; the
 * endpoint's `host:port` as the Host header. It is written from the SDKs' observable
 * behaviour, independently of the door's own signature code.
 *
 * Test-only.
 *
 * @module
 */
import { createHmac } from "node:crypto";

/** A secretId and its secretKey. */
export interface CmqCredentials {
  secretId: string;
  secretKey: string;
}

/** What the door is reached through: `app.fetch` or any request handler. */
export type RequestHandler = (request: Request) => Response | Promise<Response>;

/** How the client behaves; every field has the Python SDK's default. */
export interface CmqTestClientOptions {
  handler: RequestHandler;
  /** The endpoint's host as the application configured it: signed and sent as Host. */
  host?: string;
  credentials?: CmqCredentials;
  /** `HmacSHA1` (the SDKs' default) or `HmacSHA256`. */
  signatureMethod?: string;
  httpMethod?: "POST" | "GET";
  /** The Content-Type of POST bodies; the Python and PHP SDKs send none. */
  contentType?: string;
  /**
   * `python` and `php` leave POST values beginning with "@" out of the signature; `java`
   * signs every value.
   */
  style?: "python" | "java";
  /** The `RequestClient` sent (default: the style's SDK, `SDK_Python_1.3` or `SDK_JAVA_1.3`). */
  requestClient?: string;
  /** The client's clock in ms (for `Timestamp`). */
  now?: () => number;
}

/** Changes to one call, for the tests of what the door refuses. */
export interface CallOverrides {
  /** Common parameters left out before signing (`Signature` is never added when listed). */
  omit?: string[];
  /** Sign with this key instead of the configured one. */
  signingKey?: string;
  /** Send this `Timestamp` (Unix seconds). */
  timestampSeconds?: number;
  /** Changes the parameter list after it was signed (a tampered request). */
  afterSigning?: (entries: [string, string][]) => [string, string][];
  /** Send this Host header instead of the signed host. */
  hostHeader?: string;
}

/** What the door answered. */
export interface CmqReply {
  status: number;
  contentType: string | null;
  // deno-lint-ignore no-explicit-any
  body: Record<string, any>;
}

const hashOf: Record<string, string> = { HmacSHA1: "sha1", HmacSHA256: "sha256" };

/** The SDKs' form encoding (Java's URLEncoder, Python's urlencode): space as "+". */
export function formEncode(entries: [string, string][]): string {
  return new URLSearchParams(entries).toString();
}

/**
 * The client.
 *
 * @example
 * ```ts
 * const client = new CmqTestClient({ handler: door.fetch, credentials });
 * const sent = await client.call("SendMessage", { queueName: "jobs", msgBody: "hi" });
 * ```
 */
export class CmqTestClient {
  readonly #options: CmqTestClientOptions;
  #nonce = 1;

  constructor(options: CmqTestClientOptions) {
    this.#options = options;
  }

  get #host(): string {
    return this.#options.host ?? "127.0.0.1:9876";
  }

  get #httpMethod(): "POST" | "GET" {
    return this.#options.httpMethod ?? "POST";
  }

  /** The parameter list of `action` as the SDKs build it, signed when there are credentials. */
  signedParams(
    action: string,
    params: Record<string, string | number>,
    overrides: CallOverrides = {},
  ): [string, string][] {
    const all = new Map<string, string>(
      Object.entries(params).map(([name, value]) => [name, String(value)]),
    );
    all.set("Action", action);
    // What each SDK names itself (signed like every parameter).
    all.set(
      "RequestClient",
      this.#options.requestClient ??
        (this.#options.style === "java" ? "SDK_JAVA_1.3" : "SDK_Python_1.3"),
    );
    const credentials = this.#options.credentials;
    if (credentials !== undefined) {
      all.set("SecretId", credentials.secretId);
      all.set("Nonce", String(this.#nonce++));
      const nowMs = this.#options.now?.() ?? Date.now();
      all.set("Timestamp", String(overrides.timestampSeconds ?? Math.floor(nowMs / 1000)));
      all.set("SignatureMethod", this.#options.signatureMethod ?? "HmacSHA1");
    }
    for (const name of overrides.omit ?? []) all.delete(name);
    if (credentials !== undefined && !overrides.omit?.includes("Signature")) {
      const key = overrides.signingKey ?? credentials.secretKey;
      all.set("Signature", this.#signature(all, key));
    }
    return [...all.entries()];
  }

  #signature(params: Map<string, string>, secretKey: string): string {
    const method = this.#httpMethod;
    const skipFileValues = (this.#options.style ?? "python") === "python" && method === "POST";
    const pairs = [...params.keys()].sort()
      .filter((name) => !(skipFileValues && params.get(name)!.startsWith("@")))
      .map((name) => `${name.replaceAll("_", ".")}=${params.get(name)}`);
    const text = `${method}${this.#host}/v2/index.php?${pairs.join("&")}`;
    // An unknown method name is signed with SHA-1, so only the name is wrong.
    const hash = hashOf[this.#options.signatureMethod ?? "HmacSHA1"] ?? "sha1";
    return createHmac(hash, secretKey).update(text, "utf8").digest("base64");
  }

  /** Calls `action` as an SDK would. */
  call(
    action: string,
    params: Record<string, string | number> = {},
    overrides: CallOverrides = {},
  ): Promise<CmqReply> {
    let entries = this.signedParams(action, params, overrides);
    if (overrides.afterSigning !== undefined) entries = overrides.afterSigning(entries);
    return this.send(entries, { hostHeader: overrides.hostHeader });
  }

  /** Sends a parameter list as it is (encoded like the SDKs do). */
  send(
    entries: [string, string][],
    options: { hostHeader?: string; httpMethod?: string } = {},
  ): Promise<CmqReply> {
    return this.sendRaw(formEncode(entries), options);
  }

  /** Sends an already encoded parameter string, as query (GET) or body (POST). */
  async sendRaw(
    encoded: string,
    options: { hostHeader?: string; httpMethod?: string } = {},
  ): Promise<CmqReply> {
    const method = options.httpMethod ?? this.#httpMethod;
    const headers: Record<string, string> = { host: options.hostHeader ?? this.#host };
    const base = `http://${this.#host}/v2/index.php`;
    let request: Request;
    if (method === "GET") {
      request = new Request(`${base}?${encoded}`, { method, headers });
    } else {
      if (this.#options.contentType !== undefined) {
        headers["content-type"] = this.#options.contentType;
      }
      // Bytes, not a string: a string body would get a text/plain Content-Type.
      const body = method === "HEAD" ? undefined : new TextEncoder().encode(encoded);
      request = new Request(base, { method, headers, body });
    }
    const response = await this.#options.handler(request);
    const text = await response.text();
    return {
      status: response.status,
      contentType: response.headers.get("content-type"),
      body: text === "" ? {} : JSON.parse(text),
    };
  }
}
