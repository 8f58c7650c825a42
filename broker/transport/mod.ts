/**
 * Peer links between the nodes of a Raft group: a TCP listener, one outbound link per peer that
 * dials with back-off and coalesces writes, optional TLS under everything, the handshake in which both sides prove the cluster
 * key, authenticated length-prefixed frames carrying batches of Raft messages, the checks every
 * received message passes, and keepalives that redial a link gone silent. It implements the
 * replication room's `Transport` contract structurally and imports only `raft/`.
 *
 * @module
 */
export { TcpTransport, type TcpTransportOptions } from "./tcp_transport.ts";
export type { PeerAddress, TransportStats } from "./peer_link.ts";
export { type MessageLimits, messageLimitsDefault } from "./message_validation.ts";
export { clusterKeyBytesMin } from "./peer_auth.ts";
export { LogLimiter, printable } from "./peer_io.ts";
export { peerProtocolVersion } from "./peer_codec.ts";
export type { PeerTlsOptions } from "./peer_tls.ts";
