/**
 * TLS under the peer protocol (`--peer-tls`): the listener serves the node's certificate, a
 * dialer verifies the acceptor's certificate for the host of the peer address it dialled, and
 * then both run the cluster-key handshake and authenticated frames exactly as over plain TCP.
 * TLS adds confidentiality and an authenticated server; the key stays what admits a peer (a
 * Deno TLS listener can't ask for client certificates, and a certificate alone must not be
 * enough).
 *
 * Peer TLS is all-or-nothing per cluster: a TLS node and a plain one can't talk. Each side of
 * such a pair says so in its warning (the plain side sees TLS record bytes where a frame length
 * should be; the TLS side sees a handshake fail), so the log names the fix.
 *
 * @module
 */

import assert from "node:assert/strict";
import { PeerCodecError } from "./peer_body_reader.ts";

/** TLS for peer links: the node's own pair (PEM text) and the roots its dials trust. */
export interface PeerTlsOptions {
  /** PEM certificate chain this node's peer listener serves. */
  cert: string;
  /** PEM private key of `cert`. */
  key: string;
  /**
   * PEM CA certificates a dial trusts, in addition to the runtime's default roots (Deno adds
   * `caCerts` to them; it can't replace them). Absent: the default roots only.
   */
  caCerts?: string[];
}

/** What a TLS failure on a peer link most likely means, appended to its warning. */
const allOrNothing = "peer TLS is all-or-nothing per cluster: give every node --peer-tls, or none";

/** A TLS handshake on a peer link failed (the warning says why and what to check). */
export class PeerTlsError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PeerTlsError";
  }
}

/**
 * Upgrades a dialled TCP connection to TLS, verifying the peer's certificate for `hostname`.
 * `started` gets the TLS connection before its handshake runs, so that a deadline can close it
 * (closing the consumed TCP connection would not end the handshake).
 */
export async function dialTls(
  tcp: Deno.TcpConn,
  hostname: string,
  options: { caCerts?: string[]; started(conn: Deno.TlsConn): void },
): Promise<Deno.TlsConn> {
  const conn = await Deno.startTls(tcp, { hostname, caCerts: options.caCerts });
  options.started(conn);
  try {
    await conn.handshake();
    return conn;
  } catch (error) {
    try {
      conn.close();
    } catch {
      // Already closed (by the deadline).
    }
    const hint = error instanceof Deno.errors.UnexpectedEof
      ? `: the peer closed the connection (does it run without --peer-tls? ${allOrNothing})`
      : "";
    throw new PeerTlsError(`TLS handshake failed: ${errorText(error)}${hint}`, { cause: error });
  }
}

/** Runs the server side of an accepted connection's TLS handshake. */
export async function acceptTls(conn: Deno.Conn<Deno.NetAddr>): Promise<void> {
  assert.ok("handshake" in conn, "a TLS listener accepts TLS connections");
  try {
    await (conn as Deno.TlsConn).handshake();
  } catch (error) {
    const hint = /InvalidContentType|corrupt message/.test(String(error))
      ? ` (it is not TLS: does the peer run without --peer-tls? ${allOrNothing})`
      : "";
    throw new PeerTlsError(`TLS handshake failed: ${errorText(error)}${hint}`, { cause: error });
  }
}

/**
 * Whether the first bytes of a connection are a TLS record (a handshake or an alert, protocol
 * version 3.x) rather than a peer frame; a frame's little-endian length that starts this way
 * is over the pre-handshake limit, so the two can't be confused.
 */
export function looksLikeTls(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && (bytes[0] === 0x15 || bytes[0] === 0x16) && bytes[1] === 0x03;
}

/** The error a plain peer link raises when the other side speaks TLS. */
export function tlsOnPlainLink(): PeerCodecError {
  return new PeerCodecError(
    `the peer speaks TLS (it runs with --peer-tls and this node does not; ${allOrNothing})`,
  );
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
