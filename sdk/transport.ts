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

import { TransportError } from "./errors.ts";
import { Http1Transport } from "./http1.ts";
import { abandonOnAbort } from "./abandon.ts";

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
 * Sends requests. When a request gets no (whole) answer for a reason of the network, a transport
 * rejects with a `TransportError` (or its runtime's own network error, see `isNetworkFailure`):
 * the client turns it into a `NetworkError` and retries it where repeating is safe. Any other
 * error it throws (a bug of its own, a refused permission) reaches the caller unchanged, once.
 */
export interface HttpTransport {
  request(request: HttpRequest): Promise<HttpResponse>;
  /** Drops pooled connections. */
  close?(): void;
  /**
   * True when `request()` and its response's `text()` always settle once the request's signal
   * aborts. The client then waits on them as they are; otherwise (the default, any transport of
   * your own) it stops waiting at the abort itself, so a transport that ignores its signal can't
   * hold a call past its timeout.
   */
  readonly settlesOnAbort?: boolean;
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
  /**
   * The request and its body's `text()` settle once the signal aborts: the Fetch standard's
   * `fetch` rejects, and errors the body it is streaming, on its signal's abort. A fetch function
   * passed in may not honour its signal, so this transport stops waiting on it at the abort itself.
   */
  readonly settlesOnAbort = true;
  readonly #fetch: typeof fetch;
  /** A fetch function was passed in: its promises are raced against the abort. */
  readonly #custom: boolean;

  constructor(fetchFunction?: typeof fetch) {
    // Looked up per call when defaulted, so a later replacement of globalThis.fetch is seen.
    this.#fetch = fetchFunction ?? ((input, init) => fetch(input, init));
    this.#custom = fetchFunction !== undefined;
  }

  /**
   * The Fetch standard rejects with a `TypeError` when the network fails ("fetch failed"): that
   * one, from the fetch function or from reading the body, is a `TransportError` here. Any other
   * error of the fetch function passes as it is.
   */
  async request(request: HttpRequest): Promise<HttpResponse> {
    const { signal } = request;
    const settled = <T>(work: Promise<T>) => this.#custom ? abandonOnAbort(work, signal) : work;
    let response: Response;
    try {
      response = await settled(this.#fetch(request.url, {
        method: request.method,
        headers: request.headers,
        body: request.body,
        signal,
        // A 3xx is an answer, as with the other transports (see `errorFromAnswer`): followed, a
        // signed request would go elsewhere, a POST come back as a GET without its body.
        redirect: "manual",
      }));
    } catch (error) {
      throw fetchFailure(error);
    }
    request.onHead?.();
    return {
      status: response.status,
      header: (name) => response.headers.get(name),
      text: () => settled(response.text()).catch((error) => Promise.reject(fetchFailure(error))),
    };
  }
}

/** A fetch's network failure (a `TypeError`, as the Fetch standard has it) as a `TransportError`. */
function fetchFailure(error: unknown): unknown {
  if (!(error instanceof TypeError)) return error;
  return new TransportError(error.message, { cause: error });
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

/** Options of `defaultTransport`. */
export interface DefaultTransportOptions {
  /**
   * PEM CA certificates trusted for `https:` nodes (a private CA's). In Deno they are added to
   * the default roots (Deno can't replace them); in Node they replace Node's bundled roots (its
   * `ca` option), so give every CA the nodes' certificates chain to. Elsewhere (a browser, Bun)
   * `fetch` can't be given any: the call throws a `TypeError` rather than ignore them.
   */
  caCertificates?: string[];
}

/**
 * The transport the client uses when given none: in Deno, `Http1Transport` (raw keep-alive
 * connections, about half the CPU of `fetch` per request), or `fetch` when a proxy variable is set
 * and readable; `node:http` keep-alive agents in Node; the global `fetch` elsewhere. With
 * `caCertificates` it is the same transport trusting them: the way to reach nodes whose
 * certificates a private CA signed, in Deno and in Node alike.
 *
 * @example
 * ```ts
 * const transport = defaultTransport();
 * const response = await transport.request({
 *   url: "http://127.0.0.1:8080/healthz", method: "GET", headers: {},
 *   signal: AbortSignal.timeout(1000),
 * });
 * ```
 *
 * @example
 * ```ts
 * const client = new CmqdClient({
 *   baseUrl: "https://node1.internal:8443",
 *   transport: defaultTransport({ caCertificates: [caPem] }),
 * });
 * ```
 */
export function defaultTransport(options: DefaultTransportOptions = {}): HttpTransport {
  const { caCertificates } = options;
  if (runsInNode()) return new LazyNodeTransport(caCertificates);
  if (runsInDeno()) {
    if (!proxyConfigured()) return new Http1Transport({ caCertificates });
    return caCertificates === undefined ? new FetchTransport() : denoFetchTrusting(caCertificates);
  }
  if (caCertificates !== undefined) {
    throw new TypeError(
      "caCertificates: this runtime's fetch can't be given CA certificates; trust the CA where " +
        "the runtime takes it (the system's store), or pass a transport of your own",
    );
  }
  return new FetchTransport();
}

/** The part of Deno's API `denoFetchTrusting` uses (typed here: the npm build has no Deno types). */
interface DenoHttpClients {
  createHttpClient(options: { caCerts: string[] }): { close(): void };
}

/**
 * Deno's `fetch` (which goes through the proxy variables' proxy) on an HTTP client trusting
 * `caCertificates` besides the default roots; `close` closes that client.
 */
function denoFetchTrusting(caCertificates: string[]): HttpTransport {
  const deno = (globalThis as unknown as { Deno: DenoHttpClients }).Deno;
  const client = deno.createHttpClient({ caCerts: caCertificates });
  const transport = new FetchTransport((input, init) =>
    fetch(input, { ...init, client } as unknown as RequestInit)
  );
  return {
    settlesOnAbort: transport.settlesOnAbort,
    request: (request) => transport.request(request),
    close: () => client.close(),
  };
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
  /** As `NodeHttpTransport`'s (the module loads at once, whatever the signal). */
  readonly settlesOnAbort = true;
  #inner: Promise<HttpTransport> | undefined;
  #loaded: HttpTransport | undefined;
  readonly #caCertificates: string[] | undefined;

  constructor(caCertificates: string[] | undefined) {
    this.#caCertificates = caCertificates;
  }

  async request(request: HttpRequest): Promise<HttpResponse> {
    this.#inner ??= import("./transport_node.ts").then((module) => {
      this.#loaded = new module.NodeHttpTransport({ caCertificates: this.#caCertificates });
      return this.#loaded;
    });
    return await (await this.#inner).request(request);
  }

  close(): void {
    this.#loaded?.close?.();
  }
}

/**
 * Names of Deno's network errors (`Deno.errors.*`): a connection that could not be made or was
 * lost. Matched by name, so this module needs no Deno types.
 */
const denoNetworkErrors = new Set([
  "AddrNotAvailable",
  "BrokenPipe",
  "ConnectionAborted",
  "ConnectionRefused",
  "ConnectionReset",
  "Interrupted",
  "NetworkUnreachable",
  "NotConnected",
  "TimedOut",
  "UnexpectedEof",
]);

/** Socket error codes (Node's and undici's `code`) of a connection not made or lost. */
const socketErrorCodes = new Set([
  "EADDRNOTAVAIL",
  "EAI_AGAIN",
  "ECONNABORTED",
  "ECONNREFUSED",
  "ECONNRESET",
  "EHOSTDOWN",
  "EHOSTUNREACH",
  "ENETDOWN",
  "ENETRESET",
  "ENETUNREACH",
  "ENOTCONN",
  "ENOTFOUND",
  "EPIPE",
  "ETIMEDOUT",
  "UND_ERR_CLOSED",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_SOCKET",
]);

/**
 * True when a transport's error says its request got no answer for a reason of the network,
 * which the client reports as `NetworkError` (retried where repeating is safe): the error, or one
 * in its `cause` chain (five deep), is a `TransportError` (what the SDK's transports throw), one of
 * Deno's network errors (`ConnectionReset`, `BrokenPipe`, `UnexpectedEof` …, by name), or carries
 * a socket error code (`ECONNRESET`, `EPIPE`, `ETIMEDOUT`, `UND_ERR_SOCKET` …). Anything else —
 * a `TypeError` of a custom transport's own code, a refused permission — is not: the client
 * passes it to the caller unchanged, without a retry. (The client looks at its own abort and
 * timeouts first: a transport's error after those is `Aborted` or `Timeout` whatever it is.)
 */
export function isNetworkFailure(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    if (current instanceof TransportError || denoNetworkErrors.has(current.name)) return true;
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && socketErrorCodes.has(code)) return true;
    current = current.cause;
  }
  return false;
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
