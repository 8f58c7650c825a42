/**
 * One Raft group on this node: the replica that runs the Ready loop (persist, send, apply,
 * advance), recovery of the log and the newest snapshot at start, snapshots, the log storage and
 * writer that put Raft's log into the segment log, and the waiters that answer proposals.
 *
 * Generic over its contracts (`types.ts`): it applies entries to any `Applier`, talks to peers
 * through any `Transport`, and offers the service a `Proposer`. It imports only `raft/` and
 * `storage/`.
 *
 * @module
 */
export { ReplicationError, type ReplicationErrorCode } from "./errors.ts";
export {
  type PeerStatus,
  RaftReplica,
  type RaftReplicaOptions,
  type RaftReplicaStatus,
  type RoleChange,
} from "./replica.ts";
export {
  decodeSnapshotContainer,
  refuseNewerSnapshots,
  snapshotContainerVersion,
  snapshotFileName,
} from "./snapshot_container.ts";
export {
  followerInlineSyncBytesMax,
  syncSmallRoundsInlineWhileFollowing,
} from "./follower_sync.ts";
export { ForceNewClusterError, type ForceNewClusterOptions } from "./force_new_cluster.ts";
export { electionTimeoutMs } from "./replica_status.ts";
export { ScrubLoop, type ScrubLoopOptions } from "./scrub_loop.ts";
export { removedMessage } from "./removal_watch.ts";
export type {
  AppliedEntry,
  Applier,
  ClockLike,
  LogReader,
  PeerAddress,
  PeerRefusals,
  Proposer,
  Timers,
  Transport,
} from "./types.ts";
