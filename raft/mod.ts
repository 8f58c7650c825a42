/**
 * A pure Raft consensus core in the style of etcd-raft. See `doc.ts` for the Ready/advance
 * contract the caller must follow.
 *
 * @example
 * ```ts
 * import { createPrng, MemoryLogStorage, nodeId, RaftNode } from "./mod.ts";
 * const id = nodeId("n1");
 * const storage = new MemoryLogStorage({ config: { voters: [id], learners: [] } });
 * const node = new RaftNode({ id, storage, prng: createPrng(1) });
 * node.campaign(); // a one-voter group elects itself at once
 * ```
 *
 * @module
 */

export * from "./types.ts";
export * from "./errors.ts";
export { createPrng, randomInt } from "./prng.ts";
export { committedIndex, hasQuorum, majority, type VoteResult, voteResult } from "./quorum.ts";
export {
  applyConfigChange,
  decodeConfigChange,
  encodeConfigChange,
  isMember,
  isVoter,
  members,
} from "./membership.ts";
export {
  soleVoterChanges,
  type SoleVoterTakeover,
  soleVoterTakeover,
  type StoredLogEnd,
} from "./force_config.ts";
export {
  bytesSource,
  entryBytes,
  type LogStorage,
  MemoryLogStorage,
  MemorySnapshotSink,
} from "./log_storage.ts";
export type { MemoryLogStorageOptions } from "./log_storage.ts";
export type { ProgressState } from "./progress.ts";
export type { LostState } from "./fresh.ts";
export {
  type ProgressStatus,
  type Proposal,
  type ProposalItem,
  RaftNode,
  type RaftNodeOptions,
  type RaftStatus,
} from "./node.ts";
