/**
 * Node assembly: opens the data directory, recovers the replica, builds the engine, the service
 * and the HTTP app, wires the transport, forwards requests to the leader and runs membership
 * changes (join, promote, remove). The only room that imports every other. It also hands
 * `main.ts` the credentials loader, since `main.ts` sees the broker only through this room.
 *
 * @module
 */
export { type CmqdNode, type NodeOptions, noPeers, startNode } from "./node.ts";
export {
  advertisedHostOf,
  clusterKeyEnv,
  envWarnings,
  flagOnly,
  isClusterMember,
  type NodeConfig,
  parseConfig,
  usage,
} from "./config.ts";
export { forceNewClusterDirProblem, holdsLog } from "./force_new_cluster.ts";
export { ClusterIdError, recordClusterId, settleClusterId } from "./cluster_id.ts";
export {
  clusterOf,
  joinCluster,
  JoinError,
  joinPointOf,
  joinSigner,
  type Signer,
} from "./join_client.ts";
export { ForceNewClusterError } from "../replication/mod.ts";
export { type KeyFileAccess, loadClusterKey, newClusterKeyText } from "./cluster_key.ts";
export {
  clusterRequestScheme,
  signClusterRequest,
  type SignedRequestParts,
} from "./cluster_request_auth.ts";
export { type ClientServer, serveClients, startingAnswer } from "./client_server.ts";
export { realClock, realTimers } from "./real_time.ts";
export {
  failedStopExitCode,
  sameStopRequestMs,
  shutDown,
  type ShutdownParts,
  stopSignals,
} from "./shutdown.ts";
export { newerReleaseExitCode, newerReleaseRefusal, versionText } from "./release_info.ts";
export { fatalExit } from "./fatal_exit.ts";
export {
  certificateExpiryWarning,
  loadTlsFiles,
  memberFetch,
  servedNamesWarning,
  tlsFileBytesMax,
  type TlsFiles,
} from "./tls_files.ts";
export { CredentialsError, FileKeyRing, secretFileWarning } from "../auth/mod.ts";
// The bound on requests held across a freeze, which `main.ts` gives the node (`held`).
export { HeldRequests } from "../service/mod.ts";
