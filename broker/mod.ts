/**
 * The broker: the CMQ domain (commands, state machine, service), the replica that drives it and
 * the HTTP doors. `main.ts`, the tests and the benchmarks import it from here.
 *
 * @module
 */
export { type CmqdNode, type NodeOptions, noPeers, startNode } from "./node.ts";
export { TcpTransport, type TcpTransportOptions } from "./transport.ts";
export type { PeerAddress, Transport } from "./transport_types.ts";
export { RaftReplica, type RaftReplicaStatus } from "./raft_replica.ts";
export { realTimers, type Timers } from "./engine_types.ts";
export { type NodeConfig, parseConfig, usage } from "./config.ts";
export { ApiError, type ErrorCode, errorStatus } from "./errors.ts";
export { messageLimits, namePattern, queueLimits } from "./limits.ts";
export type { NodeStatus, QueueService } from "./service_types.ts";
