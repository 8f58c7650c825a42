/**
 * Test helpers for Raft groups: an in-memory network with faults and a whole-cluster harness
 * with safety checkers. Used by `raft/` tests and by the cross-folder simulator.
 *
 * @example
 * ```ts
 * import { SimCluster } from "./mod.ts";
 * const cluster = new SimCluster({ ids: ["a", "b", "c"], seed: 42 });
 * const leader = cluster.waitForLeader();
 * ```
 *
 * @module
 */

export { type NetworkFaults, SimNetwork } from "./network.ts";
export { entryText, SimCluster, type SimClusterOptions, type SimNode } from "./cluster.ts";
export { testMessage } from "./messages.ts";
