/**
 * The broker's internals for tests and benchmarks outside `broker/` (the simulation, the SDK's
 * HTTP tests, `deno bench`): the rooms' public faces and their test doubles, gathered so that
 * nothing outside `broker/` imports a room directly. Production code (`main.ts`) uses `mod.ts`.
 *
 * @module
 */
export * from "./mod.ts";
export {
  CommandType,
  encodeCreateQueue,
  encodeDeleteBatch,
  encodeReceiveBatch,
  encodeSendBatch,
  receiptHandleToBytes,
  type ReceiveResult,
  resolveCreate,
  type SendCommandMessage,
  StateMachine,
} from "./engine/mod.ts";
export {
  type Proposer,
  RaftReplica,
  type RaftReplicaStatus,
  type Timers,
  type Transport,
} from "./replication/mod.ts";
export { BrokerError, EngineService, type QueueService } from "./service/mod.ts";
export { ReplicationError } from "./replication/mod.ts";
export { createApp, Metrics } from "./http/mod.ts";
export { FakeStatus, recordingService } from "./http/testing/mod.ts";
export { drainMicrotasks, LocalTransport, memoryEngine } from "./cluster/testing/mod.ts";
export {
  closedByPeer,
  encodeHelloFrame,
  encodeMessagesFrame,
  encodeProofFrame,
  newNonce,
  rawConnect,
  rawHandshake,
  type RawSession,
  tagBytes,
  TcpProxy,
} from "./transport/testing/mod.ts";
