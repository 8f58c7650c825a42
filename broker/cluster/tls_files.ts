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
import { advertisedHostOf, isClusterMember, type NodeConfig } from "./config.ts";
import { hopByHopNames } from "./hop_by_hop.ts";

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
/** The headers of the private keys Deno serves: PKCS#8, PKCS#1 (RSA) and SEC1 (EC). */
const privateKeyMarker = /-----BEGIN (?:RSA |EC )?PRIVATE KEY-----/;
/** A PKCS#8 key under a passphrase, or a PKCS#1/SEC1 one with openssl's encryption header. */
const encryptedKeyMarker = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/;
const swapped = "are --tls-cert and --tls-key swapped?";

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

/**
 * Checks each served file holds what its flag takes (naming that file alone, with the likely
 * cause: the two swapped, a key under a passphrase), then parses the pair and checks the key is
 * the certificate's, before anything is started.
 */
function checkPair(
  config: Pick<NodeConfig, "tlsCert" | "tlsKey">,
  server: { cert: string; key: string } | null,
): void {
  if (server === null) return;
  const hasKey = privateKeyMarker.test(server.cert) || encryptedKeyMarker.test(server.cert);
  if (!server.cert.includes(certificateMarker)) {
    throw new Error(
      `--tls-cert ${config.tlsCert}: no PEM certificate in it` +
        (hasKey ? `, but a private key: ${swapped}` : ` (no ${certificateMarker})`),
    );
  }
  if (encryptedKeyMarker.test(server.key)) {
    throw new Error(
      `--tls-key ${config.tlsKey}: the key is encrypted (it has a passphrase), which cmqd can't ` +
        `ask for: write it out decrypted with \`openssl pkey -in ${config.tlsKey} -out NEW.key\` ` +
        "and keep NEW.key chmod 600",
    );
  }
  if (!privateKeyMarker.test(server.key)) {
    // A certificate in --tls-key: swapped when the --tls-cert file holds the key, else the
    // certificate given twice (nothing to swap: the key is missing).
    const cause = !server.key.includes(certificateMarker)
      ? " (no -----BEGIN PRIVATE KEY-----)"
      : hasKey
      ? `, but a certificate: ${swapped}`
      : ", but a certificate: --tls-key takes the private key the certificate was made with, " +
        "not a certificate";
    throw new Error(`--tls-key ${config.tlsKey}: no PEM private key in it${cause}`);
  }
  try {
    Deno.createHttpClient({ cert: server.cert, key: server.key }).close();
  } catch (error) {
    const message = (error as Error).message;
    // A chain whose first certificate is an issuer's (the order reversed) is the usual cause.
    const hint = /KeyMismatch/.test(message)
      ? ": the key must be the first certificate's (this node's own, before its issuers)"
      : "";
    throw new Error(
      `--tls-cert ${config.tlsCert} --tls-key ${config.tlsKey}: not a usable pair ` +
        `(${message})${hint}`,
    );
  }
}

/** Days before a served certificate's end from which the start warns. */
const expiryWarningDays = 14;
const hourMs = 3_600_000;

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
    const ago = hoursSpan(nowMs - validTo);
    const when = ago === null ? "within the last hour" : `${ago} ago`;
    return `the certificate expired ${when} (${at(validTo)}): clients will refuse it`;
  }
  if (Math.round((validTo - nowMs) / hourMs) >= expiryWarningDays * 24) return null;
  const left = hoursSpan(validTo - nowMs);
  const when = left === null ? "within the hour" : `in ${left}`;
  return `the certificate expires ${when} (${at(validTo)})`;
}

/**
 * `ms` to the nearest hour, as days and hours (`8 days 12 hours`, `1 day`, `5 hours`): a
 * certificate made with `-days 9` a moment ago expires "in 9 days", not "in 8 days". Null under
 * half an hour.
 */
function hoursSpan(ms: number): string | null {
  const hours = Math.round(ms / hourMs);
  if (hours === 0) return null;
  const unit = (count: number, name: string) =>
    count === 0 ? [] : [`${count} ${name}${count === 1 ? "" : "s"}`];
  return [...unit(Math.floor(hours / 24), "day"), ...unit(hours % 24, "hour")].join(" ");
}

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
    // Hop-by-hop headers described the leg from the member, not the next one.
    const drop = hopByHopNames(answer.headers.get("connection") ?? null);
    const relayed: [string, string][] = [];
    for (const [name, value] of answer.headers) {
      if (!drop.has(name)) relayed.push([name, value]);
    }
    const status = answer.status;
    return new Response(nullBodyStatuses.has(status) ? null : bytes, { status, headers: relayed });
  };
  return { fetch: memberFetch, close: () => transport.close() };
}

/**
 * What is wrong with the names of the certificate a cluster member serves: the other members
 * check it for the host they reach this node by (the advertised host in its client URL, which
 * followers forward to; with `--peer-tls` also the host of its peer address in `--peers`), and
 * refuse it when it does not name it. Null when it names them, for a node alone, or without TLS.
 */
export function servedNamesWarning(
  config: Pick<
    NodeConfig,
    "host" | "advertiseHost" | "nodeId" | "peers" | "peerTls" | "join" | "forceNewCluster"
  >,
  certPem: string,
): string | null {
  if (!isClusterMember(config)) return null;
  const hosts = [advertisedHostOf(config)];
  const own = config.peers.find((peer) => peer.id === config.nodeId);
  if (config.peerTls && own !== undefined) {
    hosts.push(own.peerAddress.slice(0, own.peerAddress.lastIndexOf(":")));
  }
  const missing = [...new Set(hostsNotNamed(certPem, hosts))];
  if (missing.length === 0) return null;
  const names = new X509Certificate(certPem).subjectAltName;
  return `the certificate is not valid for ${missing.join(", ")}, which the other members reach ` +
    "this node by: they will refuse it (it names " +
    (names === undefined ? "no host: it has no subjectAltName" : names) +
    "; a TLS client checks the subjectAltName, not the common name)";
}

/**
 * The hosts of `hosts` (DNS names or IP addresses, an IPv6 one with or without brackets) that the
 * first certificate of `certPem` is not valid for, as a TLS client checks it: by the
 * subjectAltName only (the common name is not looked at), a name without case or a trailing dot,
 * a `*` standing for one whole left-most label, an address equal to an `IP` entry however
 * written. None when the certificate can't be parsed (the pair check says that).
 */
export function hostsNotNamed(certPem: string, hosts: string[]): string[] {
  let altNames: string;
  try {
    altNames = new X509Certificate(certPem).subjectAltName ?? "";
  } catch {
    return [];
  }
  const names: string[] = [];
  const addresses: string[] = [];
  for (const entry of altNames.split(", ")) {
    if (entry.startsWith("DNS:")) names.push(dnsName(entry.slice(4)));
    else if (entry.startsWith("IP Address:")) addresses.push(ipAddress(entry.slice(11)));
  }
  return hosts.filter((host) => {
    const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
    if (isIpAddress(bare)) return !addresses.includes(ipAddress(bare));
    const name = dnsName(bare);
    return !names.some((pattern) => pattern === name || wildcardMatches(pattern, name));
  });
}

/** Whether `*.rest` matches `name`: one label, not empty, then `.rest`. */
function wildcardMatches(pattern: string, name: string): boolean {
  if (!pattern.startsWith("*.")) return false;
  const suffix = pattern.slice(1);
  const label = name.slice(0, name.length - suffix.length);
  return name.endsWith(suffix) && label !== "" && !label.includes(".");
}

function dnsName(name: string): string {
  return name.toLowerCase().replace(/\.$/, "");
}

function isIpAddress(host: string): boolean {
  return host.includes(":") || /^\d{1,3}(\.\d{1,3}){3}$/.test(host);
}

/** One spelling of an address: IPv6 compressed and lower case (runtimes print them otherwise). */
function ipAddress(address: string): string {
  if (!address.includes(":")) return address;
  try {
    return new URL(`http://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return address.toLowerCase();
  }
}
