/**
 * Test harnesses that wire several rooms: the real engine on an in-memory replica
 * (`memoryEngine`), and an in-process Raft cluster of real replicas over an in-memory transport.
 *
 * @module
 */
export { flush, memoryEngine, rejects, setup, wallClockEngine } from "./memory_engine.ts";
export {
  drainMicrotasks,
  followerOf,
  LocalTransport,
  receiveAll,
  sendBodies,
  settled,
  TestCluster,
} from "./raft_test_cluster.ts";
