/**
 * Test doubles of the replication room: a one-node in-memory replica and a manual clock.
 *
 * @module
 */
export { ManualClock, MemoryReplica, type MemoryReplicaOptions } from "./memory_replica.ts";
