/**
 * Peer links between the nodes of a Raft group: a TCP listener, one outbound link per peer that
 * dials with back-off and coalesces writes, and the binary frame codec (length-prefixed frames
 * carrying batches of Raft messages). It implements the replication room's `Transport` contract
 * structurally and imports only `raft/`.
 *
 * @module
 */
export { TcpTransport, type TcpTransportOptions } from "./tcp_transport.ts";
export type { PeerAddress, TransportStats } from "./peer_link.ts";
