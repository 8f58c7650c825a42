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
  fromStoredUtf8,
  receiptHandleToBytes,
  type ReceiveResult,
  resolveCreate,
  type SendCommandMessage,
  SentMessageReader,
  StateMachine,
} from "./engine/mod.ts";
export {
  type Proposer,
  RaftReplica,
  type RaftReplicaStatus,
  syncSmallRoundsInlineWhileFollowing,
  type Timers,
  type Transport,
} from "./replication/mod.ts";
export {
  BrokerError,
  EngineService,
  EngineTopicService,
  type QueueService,
  type TopicService,
} from "./service/mod.ts";
export { type PushFetch, PushHttpClient, type PushLimits, PushWorker } from "./push/mod.ts";
export { ReplicationError } from "./replication/mod.ts";
export { createApp, Metrics } from "./http/mod.ts";
export { FakeStatus, recordingService } from "./http/testing/mod.ts";
export { drainMicrotasks, LocalTransport, memoryEngine } from "./cluster/testing/mod.ts";
export {
  closedByPeer,
  encodeHelloFrame,
  encodeMessagesFrame,
  encodeProofFrame,
  hasOpenssl,
  issueCertificate,
  makeCertificates,
  makeTestCa,
  newNonce,
  rawConnect,
  rawHandshake,
  type RawSession,
  tagBytes,
  TcpProxy,
  type TestCa,
  type TestCertificate,
} from "./transport/testing/mod.ts";

import { createApp as createAppForDocument, Metrics as MetricsForDocument } from "./http/mod.ts";
import type { TopicService as TopicServiceForDocument } from "./service/mod.ts";
import {
  FakeStatus as FakeStatusForDocument,
  recordingService as recordingServiceForDocument,
} from "./http/testing/mod.ts";

/**
 * The OpenAPI document `/openapi.json` serves, built in-process from the routes (no server, no
 * data): the input of the SDK's type generator (`deno task sdk:generate`).
 *
 * @example
 * ```ts
 * const document = await openApiDocument();
 * console.log(Object.keys(document.paths));
 * ```
 */
export async function openApiDocument(): Promise<Record<string, unknown>> {
  const { service } = recordingServiceForDocument();
  const app = createAppForDocument({
    service,
    // The same recorder answers the topic routes, so the document has them too.
    topics: service as unknown as TopicServiceForDocument,
    status: new FakeStatusForDocument(),
    metrics: new MetricsForDocument(),
  });
  const response = await app.request("/openapi.json");
  if (response.status !== 200) throw new Error(`/openapi.json answered ${response.status}`);
  return await response.json();
}
