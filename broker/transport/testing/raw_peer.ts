/**
 * A hand-driven peer for black-box transport tests: a raw client (TCP, or TLS) that can send
 * arbitrary bytes, or run the real dialer handshake with any key and then send frames it builds
 * itself (forged, tampered, replayed). Test-only.
 *
 * @module
 */

import type { Message, NodeId } from "../../../raft/mod.ts";
import { PeerKeys, tagBytes } from "../peer_auth.ts";
import { FrameEncoder, handshakeFrameBytesMax } from "../peer_codec.ts";
import { dialHandshake, type Session } from "../peer_handshake.ts";
import { closeQuietly, FrameChannel, type PeerConn, writeAll } from "../peer_io.ts";
import { hostname } from "./transport_nodes.ts";

/** A raw connection to a transport's listener; over TLS (trusting `caCerts`) with `tls`. */
export async function rawConnect(
  port: number,
  tls?: { caCerts: string[] },
): Promise<PeerConn> {
  if (tls === undefined) return await Deno.connect({ hostname, port });
  return await Deno.connectTls({ hostname, port, caCerts: tls.caCerts });
}

/** A connection that completed the handshake as `nodeId` with `key`, ready to send frames. */
export interface RawSession {
  /** The connection (close it when done). */
  conn: PeerConn;
  /** The sealer and opener the handshake produced. */
  session: Session;
  /** Encodes `messages` as one frame and tags it with the next sequence number. */
  sealed(messages: Message[]): Uint8Array;
  /** `sealed(messages)`, written. */
  send(messages: Message[]): Promise<void>;
}

/**
 * Runs the dialer's handshake against `port` (expects the acceptor to be `peer`); inside TLS
 * with `tls`.
 */
export async function rawHandshake(
  port: number,
  options: {
    key: Uint8Array;
    nodeId: NodeId;
    peer: NodeId;
    clientUrl?: string;
    tls?: { caCerts: string[] };
  },
): Promise<RawSession> {
  const conn = await rawConnect(port, options.tls);
  const channel = new FrameChannel(conn, handshakeFrameBytesMax);
  const session = await dialHandshake(
    channel,
    { nodeId: options.nodeId, clusterId: "", keys: new PeerKeys(options.key) },
    {
      hello: { nodeId: options.nodeId, clientUrl: options.clientUrl ?? "http://raw" },
      expectedPeer: options.peer,
    },
  );
  const encoder = new FrameEncoder(1024, tagBytes);
  const sealed = (messages: Message[]) => {
    const frame = encoder.encodeMessages(messages).slice();
    session.sealer.seal(frame);
    return frame;
  };
  return {
    conn,
    session,
    sealed,
    send: (messages) => writeAll(conn, sealed(messages)),
  };
}

/**
 * Reads until the other side closes (true) or `deadlineMs` passes (false). Whatever it sent
 * before closing is ignored.
 */
export async function closedByPeer(conn: Deno.Conn, deadlineMs = 5000): Promise<boolean> {
  const buffer = new Uint8Array(4096);
  let expired = false;
  const timer = setTimeout(() => {
    expired = true;
    closeQuietly(conn);
  }, deadlineMs);
  try {
    for (;;) {
      if ((await conn.read(buffer)) === null) return !expired;
    }
  } catch {
    // A reset is the other side closing too; our own close on expiry lands here as well.
    return !expired;
  } finally {
    clearTimeout(timer);
    closeQuietly(conn);
  }
}
