/**
 * The TLS files of a node, read once at start: the certificate and key it serves (`--tls-cert`,
 * `--tls-key`: HTTPS to clients, and the peer listener with `--peer-tls`), and the CA
 * certificates it trusts when it connects to another member (`--tls-ca`: peer links, requests
 * forwarded to the leader's client URL, `--join`). A file that can't be used stops the start
 * with its flag and path; nothing is found wrong later, at the first connection.
 *
 * @module
 */

import { X509Certificate } from "node:crypto";
import { Http1Transport } from "../../sdk/mod.ts";
import { readSmallTextFile } from "../auth/mod.ts";
import type { NodeConfig } from "./config.ts";

/** The files' contents (PEM text). */
export interface TlsFiles {
  /** The pair this node serves, or null without `--tls-cert`/`--tls-key`. */
  server: { cert: string; key: string } | null;
  /** The CA certificates of `--tls-ca` (one PEM text), or undefined: the default roots only. */
  caCerts: string[] | undefined;
}

/** Bytes of one TLS file read at most (a large CA bundle is a few hundred KiB). */
export const tlsFileBytesMax = 4 * 1024 * 1024;

const certificateMarker = "-----BEGIN CERTIFICATE-----";

/**
 * Reads the files the configuration names. Throws an `Error` naming the flag and the path: a
 * file that can't be read or is too big, a `--tls-key` that is not the `--tls-cert`'s key (or
 * either one Deno can't parse), or a `--tls-ca` that holds no certificate or one Deno can't parse.
 *
 * @example
 * ```ts
 * const { server, caCerts } = await loadTlsFiles(config);
 * ```
 */
export async function loadTlsFiles(
  config: Pick<NodeConfig, "tlsCert" | "tlsKey" | "tlsCa">,
  readTextFile: (path: string) => Promise<string> = (path) =>
    readSmallTextFile(path, tlsFileBytesMax),
): Promise<TlsFiles> {
  const read = async (flag: string, path: string) => {
    let text;
    try {
      text = await readTextFile(path);
    } catch (error) {
      throw new Error(`${flag} ${path}: cannot read it (${(error as Error).message})`);
    }
    if (text.length > tlsFileBytesMax) {
      throw new Error(`${flag} ${path}: over ${tlsFileBytesMax} bytes, not a PEM file`);
    }
    return text;
  };
  const server = config.tlsCert === null || config.tlsKey === null ? null : {
    cert: await read("--tls-cert", config.tlsCert),
    key: await read("--tls-key", config.tlsKey),
  };
  if (config.tlsCa === null) {
    checkPair(config, server);
    return { server, caCerts: undefined };
  }
  const ca = await read("--tls-ca", config.tlsCa);
  if (!ca.includes(certificateMarker)) {
    throw new Error(`--tls-ca ${config.tlsCa}: no PEM certificate in it (no ${certificateMarker})`);
  }
  try {
    // Parses the certificates now: Deno would otherwise refuse them at each connection.
    Deno.createHttpClient({ caCerts: [ca] }).close();
  } catch (error) {
    throw new Error(
      `--tls-ca ${config.tlsCa}: not a usable certificate (${(error as Error).message})`,
    );
  }
  checkPair(config, server);
  return { server, caCerts: [ca] };
}

/** Parses the served pair and checks the key is the certificate's, before anything is started. */
function checkPair(
  config: Pick<NodeConfig, "tlsCert" | "tlsKey">,
  server: { cert: string; key: string } | null,
): void {
  if (server === null) return;
  try {
    Deno.createHttpClient({ cert: server.cert, key: server.key }).close();
  } catch (error) {
    throw new Error(
      `--tls-cert ${config.tlsCert} --tls-key ${config.tlsKey}: not a usable pair ` +
        `(${(error as Error).message})`,
    );
  }
}

/** Days before a served certificate's end from which the start warns. */
const expiryWarningDays = 14;
const dayMs = 86_400_000;

/**
 * What is wrong, at `nowMs`, with the validity of the first certificate of `certPem` (the one a
 * node serves): expired or not yet valid (clients refuse it), or ending within 14 days; null when
 * none of these, or when it can't be parsed (the pair check says that). The start logs it; a node
 * still serves an expired certificate, as other servers do, so that a renewal is one restart.
 */
export function certificateExpiryWarning(certPem: string, nowMs: number): string | null {
  let validFrom: number;
  let validTo: number;
  try {
    const certificate = new X509Certificate(certPem);
    validFrom = new Date(certificate.validFrom).getTime();
    validTo = new Date(certificate.validTo).getTime();
  } catch {
    return null;
  }
  const at = (ms: number) => new Date(ms).toISOString();
  if (nowMs < validFrom) {
    return `the certificate is not valid before ${at(validFrom)}: clients will refuse it`;
  }
  if (nowMs >= validTo) {
    const days = Math.floor((nowMs - validTo) / dayMs);
    const ago = days === 1 ? "1 day" : `${days} days`;
    return `the certificate expired ${ago} ago (${at(validTo)}): clients will refuse it`;
  }
  const left = Math.floor((validTo - nowMs) / dayMs);
  if (left >= expiryWarningDays) return null;
  const when = left === 0 ? "within a day" : left === 1 ? "in 1 day" : `in ${left} days`;
  return `the certificate expires ${when} (${at(validTo)})`;
}

/** Hop-by-hop headers of an answer: they described the leg from the member, not the next one. */
const hopByHop = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
]);
/** Statuses whose `Response` has no body. */
const nullBodyStatuses = new Set([101, 103, 204, 205, 304]);

/**
 * The `fetch` a node uses to reach other members' client URLs (forwarding to the leader,
 * `--join`): the SDK's `Http1Transport` (HTTP/1.1 on kept-alive raw connections, a third of
 * `fetch`'s CPU per request), trusting `caCerts` besides the default roots. It takes what those
 * callers give: a URL string, a method, headers, a string or byte body and a signal; the answer's
 * body is read whole (a member's answers are bounded by the API). `close` drops idle connections.
 */
export function memberFetch(
  caCerts: string[] | undefined,
): { fetch: typeof fetch; close(): void } {
  const transport = new Http1Transport({ caCertificates: caCerts });
  const memberFetch = async (input: RequestInfo | URL, init: RequestInit = {}) => {
    if (input instanceof Request) throw new TypeError("memberFetch takes a URL, not a Request");
    const { body } = init;
    if (body != null && typeof body !== "string" && !(body instanceof Uint8Array)) {
      throw new TypeError("memberFetch sends a string or Uint8Array body");
    }
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, name) => headers[name] = value);
    const answer = await transport.request({
      url: String(input),
      method: init.method ?? "GET",
      headers,
      body: body ?? undefined,
      signal: init.signal ?? new AbortController().signal,
    });
    const bytes = await answer.bytes();
    const relayed: [string, string][] = [];
    for (const [name, value] of answer.headers) {
      if (!hopByHop.has(name)) relayed.push([name, value]);
    }
    const status = answer.status;
    return new Response(nullBodyStatuses.has(status) ? null : bytes, { status, headers: relayed });
  };
  return { fetch: memberFetch, close: () => transport.close() };
}
