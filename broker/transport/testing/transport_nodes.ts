/**
 * Test helpers for the TCP transport: transports on loopback that record what they receive, a
 * bounded wait, and message builders. Test-only.
 *
 * @module
 */

import {
  type Entry,
  type LogIndex,
  type Message,
  MessageType,
  type NodeId,
  nodeId,
  type Term,
} from "../../../raft/mod.ts";
import { TcpTransport, type TcpTransportOptions } from "../tcp_transport.ts";

export const hostname = "127.0.0.1";

/** The key the test transports share (any 16+ bytes; a real one comes from a key file). */
export const testClusterKey = new TextEncoder().encode("test-cluster-key-0123456789abcdef");

/** A transport with everything it received and every unreachable report and warning it made. */
export interface TestNode {
  id: NodeId;
  transport: TcpTransport;
  received: Message[];
  unreachable: NodeId[];
  warnings: string[];
}

/** Starts a transport on a free loopback port with fast reconnects. */
export async function startNode(
  id: string,
  options: Partial<TcpTransportOptions> = {},
): Promise<TestNode> {
  const received: Message[] = [];
  const unreachable: NodeId[] = [];
  const warnings: string[] = [];
  const transport = await TcpTransport.start({
    nodeId: nodeId(id),
    listen: { hostname, port: 0 },
    clientUrl: `http://client-${id}`,
    peers: [],
    clusterKey: testClusterKey,
    reconnectMsMin: 10,
    reconnectMsMax: 100,
    log: (line) => warnings.push(line),
    ...options,
  });
  transport.onMessage((message) => received.push(message));
  transport.onUnreachable((peer) => unreachable.push(peer));
  return { id: nodeId(id), transport, received, unreachable, warnings };
}

/** `host:port` of a test node's listener. */
export function peerAddress(node: TestNode): string {
  return `${hostname}:${node.transport.address.port}`;
}

/** Starts `ids.length` transports that all know each other and waits until all are connected. */
export async function startCluster(
  ids: string[],
  options: Partial<TcpTransportOptions> = {},
): Promise<TestNode[]> {
  const nodes = await Promise.all(ids.map((id) => startNode(id, options)));
  for (const node of nodes) {
    for (const other of nodes) {
      if (other !== node) node.transport.setPeer({ id: other.id, peerAddress: peerAddress(other) });
    }
  }
  await waitFor(() =>
    nodes.every((node) =>
      nodes.every((other) => other === node || node.transport.isConnected(other.id))
    )
  );
  return nodes;
}

export async function closeAll(nodes: TestNode[]): Promise<void> {
  await Promise.all(nodes.map((node) => node.transport.close()));
}

/** Polls `condition` until it holds; fails after `deadlineMs` (a bound, not a timing claim). */
export async function waitFor(condition: () => boolean, deadlineMs = 30_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met before the deadline");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** An append from `from` to `to` at `index` (term 1). */
export function message(from: NodeId, to: NodeId, index: number, entries: Entry[] = []): Message {
  return {
    type: MessageType.App,
    from,
    to,
    term: 1 as Term,
    logTerm: 1 as Term,
    index: index as LogIndex,
    entries,
    commit: 0 as LogIndex,
    reject: false,
    rejectHint: 0 as LogIndex,
    context: "",
  };
}

/** An application entry of `bytes` bytes (term 1). */
export function entry(index: number, bytes: number): Entry {
  const data = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += 4096) data[i] = (index + i) & 0xff;
  return { term: 1 as Term, index: index as LogIndex, type: 16, data, timestamp: index };
}

/** `first` followed by `second`. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.length;
  }
  return bytes;
}
