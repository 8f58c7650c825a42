/**
 * The broker program: what `main.ts` needs to run a node, and nothing else. Everything behind it
 * lives in rooms, each with its own `mod.ts`:
 *
 * - `engine/` — the deterministic queue state machine, commands, snapshots, limits, errors (pure)
 * - `replication/` — one Raft group on this node: Ready loop, recovery, snapshots, log writer
 * - `transport/` — peer links over TCP and their frame codec
 * - `service/` — the one service every door calls: validation, long-poll parking
 * - `cluster/` — node assembly, config, membership, forwarding to the leader
 * - `http/` — the hono app and operations routes; `http/v1/` the native door
 * - `auth/` — credentials and request signatures shared by every door
 *
 * Tests and benchmarks reach deeper through `testing.ts`.
 *
 * @example
 * ```ts
 * const node = await startNode({ nodeId: "n1", dataDir: "./data", fs: new RealFileSystem(),
 *   clock: realClock, timers: realTimers, transport: noPeers(), initialVoters: ["n1"],
 *   url: "http://127.0.0.1:9876" });
 * Deno.serve({ port: 9876 }, node.handler);
 * ```
 *
 * @module
 */
export {
  advertisedHostOf,
  certificateExpiryWarning,
  type ClientServer,
  ClusterIdError,
  clusterOf,
  type CmqdNode,
  CredentialsError,
  envWarnings,
  failedStopExitCode,
  fatalExit,
  FileKeyRing,
  forceNewClusterDirProblem,
  ForceNewClusterError,
  HeldRequests,
  holdsLog,
  isClusterMember,
  joinCluster,
  JoinError,
  joinPointOf,
  joinSigner,
  loadClusterKey,
  loadTlsFiles,
  memberFetch,
  newClusterKeyText,
  newerReleaseExitCode,
  newerReleaseRefusal,
  type NodeConfig,
  type NodeOptions,
  noPeers,
  parseConfig,
  realClock,
  realTimers,
  recordClusterId,
  sameStopRequestMs,
  secretFileWarning,
  serveClients,
  servedNamesWarning,
  settleClusterId,
  shutDown,
  signClusterRequest,
  startingAnswer,
  startNode,
  stopSignals,
  type TlsFiles,
  usage,
  versionText,
} from "./cluster/mod.ts";
export {
  type PeerAddress,
  type PeerTlsOptions,
  TcpTransport,
  type TcpTransportOptions,
  type TransportStats,
} from "./transport/mod.ts";
