/**
 * The broker: the CMQ domain (commands, state machine, service), the replica that drives it and
 * the HTTP doors. `main.ts`, the tests and the benchmarks import it from here.
 *
 * @module
 */
export { type CmqdNode, type NodeOptions, noPeers, startNode } from "./cluster/node.ts";
export { TcpTransport, type TcpTransportOptions } from "./transport/tcp_transport.ts";
export type { PeerAddress, Transport } from "./replication/types.ts";
export { RaftReplica, type RaftReplicaStatus } from "./replication/replica.ts";
export { realTimers, type Timers } from "./engine/types.ts";
export { type NodeConfig, parseConfig, usage } from "./cluster/config.ts";
export { BrokerError, type ErrorCode } from "./engine/errors.ts";
export { messageLimits, namePattern, queueLimits } from "./engine/limits.ts";
export type { NodeStatus, QueueService } from "./service/types.ts";
