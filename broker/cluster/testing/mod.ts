/**
 * Test harnesses that wire several rooms: the real engine on an in-memory replica
 * (`memoryEngine`), one real node on a simulated file system (`startOneNode`), and an in-process Raft cluster of real replicas over an in-memory transport.
 *
 * @module
 */
export { flush, memoryEngine, rejects, setup, wallClockEngine } from "./memory_engine.ts";
export { fixtureCertificatePem } from "./fixture_certificate.ts";
export { laggingLeader } from "./lagging_leader.ts";
export { startOneNode, until } from "./one_node.ts";
export { stoppableTimers } from "./stoppable_timers.ts";
export {
  drainMicrotasks,
  followerOf,
  LocalTransport,
  receiveAll,
  receiveAllFromLeader,
  sendBodies,
  settled,
  TestCluster,
} from "./raft_test_cluster.ts";
