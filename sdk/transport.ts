/**
 * How the client moves bytes: a tiny `HttpTransport` interface with a `fetch` implementation
 * (browsers, Bun, Deno behind a proxy), an HTTP/1.1 one on Deno's raw connections (`http1.ts`,
 * the default in Deno) and a `node:http` one with keep-alive agents (`transport_node.ts`), which
 * `defaultTransport()` picks when it runs in Node: Node's global `fetch` is several times slower
 * (measured on Node 20). The Node module is loaded lazily, so nothing here imports `node:*`
 * and the SDK still loads where those modules don't exist.
 *
 * @module
 */

import { Http1Transport } from "./http1.ts";

/** One HTTP request. */
export interface HttpRequest {
  /** Absolute URL. */
  url: string;
  method: string;
  /** Lower-case names. */
  headers: Record<string, string>;
  body?: string;
  /** Aborts the request, including the reading of the response body. */
  signal: AbortSignal;
  /**
   * Called when the status and headers arrived, before the body is read (the client's
   * `headTimeoutMs` ends there). A transport that never calls it has its head counted when
   * `request` resolves.
   */
  onHead?: () => void;
}

/** An answer whose status and headers arrived; the body is read with `text()`. */
export interface HttpResponse {
  status: number;
  /** A header's value, or null when absent. */
  header(name: string): string | null;
  /** The whole body as UTF-8 text (empty for 204). */
  text(): Promise<string>;
}

/**
 * Sends requests. A transport rejects with whatever error its runtime gives when the request
 * gets no answer; the client turns it into a `CmqdError` (see `isConnectFailure`).
 */
export interface HttpTransport {
  request(request: HttpRequest): Promise<HttpResponse>;
  /** Drops pooled connections. */
  close?(): void;
}

/**
 * A transport on a `fetch` function, the global one by default.
 *
 * @example
 * ```ts
 * const client = new CmqdClient({
 *   baseUrl: "http://127.0.0.1:8080",
 *   transport: new FetchTransport((input, init) => fetch(input, { ...init, keepalive: true })),
 * });
 * ```
 */
export class FetchTransport implements HttpTransport {
  readonly #fetch: typeof fetch;

  constructor(fetchFunction?: typeof fetch) {
    // Looked up per call when defaulted, so a later replacement of globalThis.fetch is seen.
    this.#fetch = fetchFunction ?? ((input, init) => fetch(input, init));
  }

  async request(request: HttpRequest): Promise<HttpResponse> {
    const response = await this.#fetch(request.url, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      signal: request.signal,
    });
    request.onHead?.();
    return {
      status: response.status,
      header: (name) => response.headers.get(name),
      text: () => response.text(),
    };
  }
}

/** True in Node (not in Deno, whose `process` global also names a Node version, nor in Bun). */
export function runsInNode(): boolean {
  const global = globalThis as {
    Deno?: unknown;
    Bun?: unknown;
    process?: { versions?: { node?: string } };
  };
  return global.Deno === undefined && global.Bun === undefined &&
    typeof global.process?.versions?.node === "string";
}

/** Variables that route `fetch` through a proxy; `Http1Transport` reads none of them. */
const proxyVariables = ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"];

/**
 * The transport the client uses when given none: in Deno, `Http1Transport` (raw keep-alive
 * connections, about half the CPU of `fetch` per request), or `fetch` when a proxy variable is set
 * and readable; `node:http` keep-alive agents in Node; the global `fetch` elsewhere.
 *
 * @example
 * ```ts
 * const transport = defaultTransport();
 * const response = await transport.request({
 *   url: "http://127.0.0.1:8080/healthz", method: "GET", headers: {},
 *   signal: AbortSignal.timeout(1000),
 * });
 * ```
 */
export function defaultTransport(): HttpTransport {
  if (runsInNode()) return new LazyNodeTransport();
  if (runsInDeno() && !proxyConfigured()) return new Http1Transport();
  return new FetchTransport();
}

/** True in Deno. */
function runsInDeno(): boolean {
  return (globalThis as { Deno?: unknown }).Deno !== undefined;
}

/**
 * True when a proxy variable is set. Only variables the program may read are looked at (asking
 * for one it may not read would prompt): without `--allow-env`, no proxy is assumed.
 */
function proxyConfigured(): boolean {
  const deno = (globalThis as unknown as { Deno: DenoEnv }).Deno;
  return proxyVariables.some((variable) => {
    try {
      if (deno.permissions.querySync({ name: "env", variable }).state !== "granted") return false;
      return Boolean(deno.env.get(variable));
    } catch {
      return false;
    }
  });
}

/** The part of Deno's API `proxyConfigured` reads (typed here: the npm build has no Deno types). */
interface DenoEnv {
  env: { get(name: string): string | undefined };
  permissions: { querySync(descriptor: { name: "env"; variable: string }): { state: string } };
}

/** Loads `transport_node.ts` on the first request (a static import would break browsers). */
class LazyNodeTransport implements HttpTransport {
  #inner: Promise<HttpTransport> | undefined;
  #loaded: HttpTransport | undefined;

  async request(request: HttpRequest): Promise<HttpResponse> {
    this.#inner ??= import("./transport_node.ts").then((module) => {
      this.#loaded = new module.NodeHttpTransport();
      return this.#loaded;
    });
    return await (await this.#inner).request(request);
  }

  close(): void {
    this.#loaded?.close?.();
  }
}

/** Error codes (Node's `code`) of failures before the request reached any server. */
const connectFailureCodes = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);

/** Deno's fetch reports these in its message: "tcp connect error: Connection refused". */
const connectFailurePattern = /connection refused|tcp connect error|dns error|ECONNREFUSED/i;

/**
 * True when `error` says the connection was never made (refused, unknown host, no route), so
 * the request did not reach a server and may be sent elsewhere whatever it does. A reset or a
 * timeout is not one of these: the server may have acted on the request.
 */
export function isConnectFailure(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && connectFailureCodes.has(code)) return true;
    if (connectFailurePattern.test(current.message)) return true;
    current = current.cause;
  }
  return false;
}
