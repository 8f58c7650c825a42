/**
 * The cmqd program. The only place that reads flags and the environment and builds the real
 * clock and file system; everything else receives them.
 *
 * ```sh
 * deno run -A main.ts --port 9876 --data-dir ./data
 * ```
 *
 * @module
 */
import {
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
  newerReleaseExitCode,
  newerReleaseRefusal,
  type NodeConfig,
  noPeers,
  parseConfig,
  type PeerAddress,
  realTimers,
  recordClusterId,
  secretFileWarning,
  serveClients,
  servedNamesWarning,
  settleClusterId,
  shutDown,
  startingAnswer,
  startNode,
  stopSignals,
  TcpTransport,
  type TlsFiles,
  usage,
  versionText,
} from "./broker/mod.ts";
import {
  claimDataDir,
  DataDirLockedError,
  DataDirOwnerError,
  DataDirUnusableError,
  lockDataDir,
  RealFileSystem,
} from "./storage/mod.ts";
import type { NodeId } from "./raft/mod.ts";

async function main(): Promise<void> {
  let config;
  const env = Deno.env.toObject();
  for (const warning of envWarnings(env)) console.error(`cmqd: warning: ${warning}`);
  try {
    config = parseConfig(Deno.args, env);
  } catch (error) {
    console.error(`cmqd: ${(error as Error).message}\n\n${usage}`);
    Deno.exit(2);
  }
  if (config.help) {
    console.log(usage);
    return;
  }
  if (config.version) {
    console.log(versionText());
    return;
  }
  for (const warning of config.overriddenEnv) console.error(`cmqd: warning: ${warning}`);
  if (config.unusedEnv.length > 0) {
    console.error(
      `cmqd ${config.nodeId}: ${config.unusedEnv.join(", ")}: not used, this node runs alone ` +
        "(no --peers, --join or --force-new-cluster)",
    );
  }
  // The flag recovers a surviving member's data: refused before anything is written in it.
  const unrecoverable = config.forceNewCluster ? forceNewClusterDirProblem(config.dataDir) : null;
  if (unrecoverable !== null) exitWith(unrecoverable);
  // SIGHUP's default action ends the process: listen from the start, with or without a key ring.
  const hangup = reloadOnHangup(config);
  // Everything that can be wrong with the files is found before the data directory is touched
  // (a bad file must change nothing: not even create the directory or claim it for this id).
  const keyRing = await loadKeyRing(config);
  hangup.keyRing = keyRing;
  const tlsFiles = await loadTls(config);
  const tls = tlsFiles.server;
  const clusterKey = await loadKey(config);
  // Before anything listens or opens the log: a second process must change nothing.
  await lockOrExit(config, "lock");
  // Before the log opens: a joining node that holds no log says so (a voter's id is then refused).
  const emptyDataDir = config.join !== null && !holdsLog(config.dataDir);
  // Connections to other members (forwarding, --join) trust --tls-ca besides the default roots.
  const members = memberFetch(tlsFiles.caCerts);
  const scheme = tls === null ? "http" : "https";
  // What others dial: the client URL in leader hints and forwarding, the peer address.
  const advertised = advertisedHostOf(config); // an IPv6 literal in brackets
  const host = `${scheme}://${advertised}`;
  const controller = new AbortController();
  let handler: Handler | null = null;
  const server = listen(config, tls, controller.signal, () => handler);
  const url = `${host}:${server.addr.port}`;
  // The ports are free: only now is the directory claimed for this id (a start refused for a
  // port in use leaves it as it was, but for the lock file).
  if (isClusterMember(config)) peerPortFreeOrExit(config);
  await lockOrExit(config, "claim");
  // From here on a stop signal is a graceful shutdown, also while the node joins (a learner may
  // catch up for minutes) or its log opens: without a listener SIGTERM would kill it (143). So
  // also before "serving": a supervisor (or a test) that stops the broker the moment it reads
  // that line gets a clean shutdown.
  const running: { node: CmqdNode | null; starting: Promise<unknown> | null } = {
    node: null,
    starting: null,
  };
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`cmqd ${config.nodeId}: ${signal}, shutting down`);
    // In order (see `shutDown`): first the start still opening the log (it is closed, not cut
    // off), then the node. A step that fails is said in one line, the exit status not 0; past
    // `stopDeadlineMs` the process exits 1, naming the step it was in.
    Deno.exit(
      await shutDown({
        nodeId: config.nodeId,
        starting: running.starting,
        get node() {
          return running.node; // read once the start settled
        },
        server,
        drainMsMax: shutdownDrainMs,
        abortServer: () => controller.abort(),
        members,
      }),
    );
  };
  // A second signal while the stop runs ends the process at once.
  const onStopSignal = stopSignals({
    stop: (signal) => void stop(signal),
    force: (signal) => forceStop(config.nodeId, signal),
  });
  Deno.addSignalListener("SIGINT", () => onStopSignal("SIGINT"));
  Deno.addSignalListener("SIGTERM", () => onStopSignal("SIGTERM"));
  const clustered = isClusterMember(config);
  const fs = new RealFileSystem();
  const signForJoin = config.join === null || clusterKey === null
    ? null
    : joinSigner(clusterKey, config.nodeId, members.fetch);
  const joined = config.join !== null && signForJoin !== null
    ? await clusterOf(config.join, signForJoin).catch((error) => joinFailed(config, error))
    : null;
  if (stopping) return; // the stop exits; nothing more is written
  // Before the transport starts and the log opens: peers must announce the same id.
  const cluster = await settleClusterId(fs, {
    dataDir: config.dataDir,
    peers: config.peers,
    joined: joined === null ? null : { url: config.join!, clusterId: joined.clusterId },
    forceNewCluster: config.forceNewCluster,
    flag: config.clusterId,
  }).catch((error) =>
    error instanceof ClusterIdError ? exitWith(error.message) : Promise.reject(error)
  );
  for (const note of cluster.notes) console.error(`cmqd ${config.nodeId}: ${note}`);
  // parseConfig refuses a cluster member without a key, and gives a lone node none.
  const transport = clustered && clusterKey !== null
    ? await startTransport(config, {
      nodeId: config.nodeId as NodeId,
      listen: { hostname: config.host, port: config.peerPort },
      clientUrl: url,
      advertisedAddress: `${advertised}:${config.peerPort}`,
      peers: [], // dialled once the log is open (startNode's `peers`)
      clusterKey,
      clusterId: cluster.clusterId,
      tls: config.peerTls && tls !== null ? { ...tls, caCerts: tlsFiles.caCerts } : undefined,
    })
    : noPeers();
  if (clustered && config.peerTls) {
    console.log(
      `cmqd ${config.nodeId}: peer links use TLS, verifying members against ` +
        (config.tlsCa === null ? "the default roots" : `--tls-ca ${config.tlsCa}`),
    );
  }
  // On an empty data directory it may not vote before it holds what the group had committed.
  const joinedAt = joined !== null && emptyDataDir
    ? await joinPointOf(joined, signForJoin!)
    : undefined;
  if (stopping) return; // the stop exits; the log is not opened meanwhile
  const starting = startNode({
    forceNewCluster: config.forceNewCluster,
    joining: config.join !== null,
    joinedAt,
    nodeId: config.nodeId,
    dataDir: config.dataDir,
    fs,
    clusterId: cluster.clusterId,
    clock: { now: () => Date.now() },
    monotonic: { now: () => performance.now() },
    timers: realTimers,
    transport,
    initialVoters: joined !== null
      ? joined.bootstrapVoters!
      : clustered && !config.forceNewCluster
      ? config.peers.map((peer) => peer.id)
      : [config.nodeId],
    url,
    // The address the other initial voters dial it at, which a join records for it.
    peerAddress: config.peers.find((peer) => peer.id === config.nodeId)?.peerAddress ??
      (clustered ? `${advertised}:${peerPortOf(transport, config)}` : undefined),
    peers: config.peers.filter((peer) => peer.id !== config.nodeId) as PeerAddress[],
    mmap: config.mmap,
    minFreeDiskBytes: config.minFreeDiskMb * 1024 * 1024,
    scrubBytesPerSecond: config.scrubMbPerS * 1024 * 1024,
    requestBodyBudgetBytes: config.requestBodyBudgetMb * 1024 * 1024,
    held: heldRequests(config.heldRequestMaxS),
    metricsQueueSeries: config.metricsQueueSeries,
    metricsTopicSeries: config.metricsTopicSeries,
    // The same pair serves both listeners; each has its series of the expiry gauge.
    servedCertificates: tls === null ? [] : [
      { listener: "client", path: config.tlsCert!, pem: tls.cert },
      ...(clustered && config.peerTls
        ? [{ listener: "peer", path: config.tlsCert!, pem: tls.cert }] as const
        : []),
    ],
    pushDenyNetworks: config.pushDenyNetworks,
    listenHost: config.host,
    access: { keyRing, loopbackOnly: keyRing === null && !config.insecure },
    clusterKey: clusterKey ?? undefined,
    memberFetch: members.fetch,
  }).then(async (node) => {
    // The forced change is in the log now: from here on the old members are another cluster's.
    // Part of the start, so that a stop signal meanwhile (which waits for the start) can't skip
    // it: a restart without the flag would take the old members back.
    if (cluster.renewal !== null) await recordClusterId(fs, config.dataDir, cluster.renewal);
    return node;
  }, (error) => {
    // Found once the log is open (it holds no entry, the node is not a member): nothing written.
    if (error instanceof ForceNewClusterError) exitWith(error.message);
    return exitIfNewerData(config.nodeId, error);
  });
  running.starting = starting;
  const node = await starting;
  running.node = node;
  if (stopping) return;
  // A member of a group with others, started without --peers or --join, has no peer port: it
  // could never reach them and would answer NoLeader for ever (a forced survivor that grew
  // again, restarted with its old lone command).
  const { voters, learners } = node.replica.status().config;
  const others = [...voters, ...learners].filter((id) => id !== config.nodeId);
  if (!clustered && others.length > 0) {
    stopping = true; // closed here, not again by a stop signal meanwhile
    await node.close().catch((error) => console.error(`cmqd: closing: ${error.message}`));
    exitWith(
      `${config.dataDir} holds ${config.nodeId}'s log as a member of a group with ` +
        `${others.join(", ")}: start it with --peers (every voter's id=host:peerPort, itself ` +
        `included) and the cluster key; without --peers or --join it has no peer port`,
    );
  }
  handler = node.handler;
  node.onFatal((error) => void die(node, config.nodeId, error));
  if (config.join !== null && signForJoin !== null) {
    await joinCluster(config.join, signForJoin, {
      id: config.nodeId,
      peerAddress: `${advertised}:${peerPortOf(transport, config)}`,
      clientUrl: url,
      emptyDataDir,
    }, joinedAt?.voters ?? null).catch(async (error) => {
      if (stopping) return;
      stopping = true; // the node is closed here, not by a signal meanwhile
      await node.close().catch(() => {});
      joinFailed(config, error);
    });
    if (stopping) return;
  }
  // "Ready" for a one-node group means it leads; a cluster member is ready once it serves (its
  // peers may not be up yet, and an election needs them).
  for (let waited = 0; !clustered && !node.replica.isLeader && waited < 10_000; waited += 10) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  console.log(`cmqd ${config.nodeId} serving ${url}`);
}

/** The port peers dial this node at: the transport's (the real one when 0 was asked for). */
function peerPortOf(transport: ReturnType<typeof noPeers>, config: NodeConfig): number {
  return transport instanceof TcpTransport ? transport.address.port : config.peerPort;
}

/**
 * Takes the data directory's lock (`lock`), or checks it holds this node's data and claims it
 * for this id on a first start (`claim`); when another process holds it, or it is another
 * node's, exits 1 saying so; one that can't be made or opened (a file), or whose `node-id` can't
 * be read or replaced (a directory in its place), exits 2.
 */
async function lockOrExit(config: NodeConfig, claim: "lock" | "claim"): Promise<void> {
  try {
    if (claim === "lock") await lockDataDir(config.dataDir);
    // Held locked, the directory is ours to check: it must hold this node's data.
    else await claimDataDir(config.dataDir, config.nodeId);
  } catch (error) {
    if (error instanceof DataDirUnusableError) exitWith(`--data-dir: ${error.message}`);
    if (!(error instanceof DataDirLockedError || error instanceof DataDirOwnerError)) throw error;
    console.error(`cmqd ${config.nodeId}: ${error.message}`);
    Deno.exit(1);
  }
}

/**
 * Rethrows `error` from the start, unless it refused data a newer release wrote (an entry of a
 * command type this release does not know, a file of a newer format): then says so in one line
 * and exits with `newerReleaseExitCode`, since the same binary would stop at the same place again
 * (README, "Upgrading").
 */
function exitIfNewerData(nodeId: string, error: unknown): never {
  const refusal = newerReleaseRefusal(error);
  if (refusal === null) throw error;
  console.error(`cmqd ${nodeId}: FATAL: ${refusal}; exiting with status ${newerReleaseExitCode}`);
  Deno.exit(newerReleaseExitCode);
}

/**
 * How long a graceful stop waits for requests in flight once parked long polls were answered
 * (a follower's forwarded long poll waits on the leader): what is still open then is cut.
 */
const shutdownDrainMs = 2000;

/**
 * Ends the process on a stop signal received while the graceful stop runs (or the start closes the
 * node itself): what was acknowledged is on disk, and the restart recovers as after a crash.
 */
function forceStop(nodeId: string, signal: string): never {
  console.error(
    `cmqd ${nodeId}: ${signal} again: exiting now, the graceful stop unfinished (requests in ` +
      `flight are cut; what was acknowledged is on disk); exiting with status ${failedStopExitCode}`,
  );
  Deno.exit(failedStopExitCode);
}

/**
 * A failed write or fsync (or an entry of a newer release, exit `newerReleaseExitCode`): the node
 * already refuses everything and claims no leader. Carrying on
 * would leave a zombie that answers 503 forever; restarting recovers from what is really on disk
 * (the damage record makes the restart cut the unsynced tail). Waits briefly for that record.
 */
async function die(node: CmqdNode, nodeId: string, error: Error): Promise<void> {
  const { line, exitCode } = fatalExit(nodeId, error);
  console.error(line);
  const recordedMsMax = 2000;
  await Promise.race([
    node.log.close().catch(() => {}),
    new Promise((resolve) => setTimeout(resolve, recordedMsMax)),
  ]);
  Deno.exit(exitCode);
}

type Handler = (request: Request, info: Deno.ServeHandlerInfo) => Promise<Response>;

/**
 * Listens first (port 0 picks one), so the URL peers learn is the real one; requests are answered
 * 503 until `current()` returns the node's handler. A certificate that Deno refuses (not PEM, or
 * not matching the key) ends the process, naming the files. A server that later stops by itself
 * (file descriptors used up) is started again (`serveClients`).
 */
function listen(
  config: NodeConfig,
  tls: { cert: string; key: string } | null,
  signal: AbortSignal,
  current: () => Handler | null,
): ClientServer {
  try {
    return serveClients({
      hostname: config.host,
      port: config.port,
      tls,
      signal,
      handler: (request, info) => current()?.(request, info) ?? startingAnswer(request),
      report: (line) => console.error(`cmqd ${config.nodeId}: ${line}`),
    });
  } catch (error) {
    const files = tls === null
      ? ""
      : ` with --tls-cert ${config.tlsCert} --tls-key ${config.tlsKey}`;
    // Named as the peer port's is: the flags to change, whether the port is taken or the host
    // is no local address.
    exitWith(
      `cannot listen for clients on ${config.host}:${config.port} (--host, --port)${files}: ` +
        (error as Error).message,
    );
  }
}

function exitWith(message: string): never {
  console.error(`cmqd: ${message}`);
  Deno.exit(2);
}

/** `1 key`, `3 keys`: the count the credentials lines give. */
function keysText(count: number): string {
  return `${count} ${count === 1 ? "key" : "keys"}`;
}

/** The credentials file's keys, or null without one; a bad file ends the process, saying why. */
async function loadKeyRing(config: NodeConfig): Promise<FileKeyRing | null> {
  if (config.credentials === null) {
    if (config.insecure) console.log("cmqd: --insecure: serving every client without credentials");
    return null;
  }
  try {
    const keyRing = await FileKeyRing.load(config.credentials);
    console.log(`cmqd: ${keysText(keyRing.size)} loaded from ${config.credentials}`);
    await warnIfReadable("credentials file", config.credentials);
    return keyRing;
  } catch (error) {
    if (!(error instanceof CredentialsError)) throw error;
    exitWith(`not starting: ${error.message}`);
  }
}

/**
 * SIGHUP re-reads the credentials file; a bad file keeps the keys in use and says why. Without a
 * credentials file (`keyRing` null), or before it is loaded (undefined), the signal changes
 * nothing and says so: its default action would end the process. The TLS files are read at start
 * only: a node given them says so, lest a renewed certificate be taken for served.
 */
function reloadOnHangup(config: NodeConfig): { keyRing: FileKeyRing | null | undefined } {
  const hangup: { keyRing: FileKeyRing | null | undefined } = { keyRing: undefined };
  const tlsFiles = {
    "--tls-cert": config.tlsCert,
    "--tls-key": config.tlsKey,
    "--tls-ca": config.tlsCa,
  };
  const tlsFlags = Object.entries(tlsFiles).filter(([, path]) => path !== null)
    .map(([flag, path]) => `${flag} ${path}`);
  Deno.addSignalListener("SIGHUP", () => {
    if (tlsFlags.length > 0) {
      console.error(
        `cmqd: SIGHUP: the TLS files are not re-read (${tlsFlags.join(", ")}): restart the ` +
          "node to serve a renewed certificate",
      );
    }
    const keyRing = hangup.keyRing;
    if (keyRing === undefined) {
      console.error("cmqd: SIGHUP: ignored, the start has not loaded the credentials file yet");
      return;
    }
    if (keyRing === null) {
      console.error("cmqd: SIGHUP: ignored, this broker runs without a credentials file");
      return;
    }
    keyRing.reload().then(
      (keyCount) => {
        console.log(`cmqd: SIGHUP: ${keysText(keyCount)} reloaded from ${keyRing.path}`);
        return warnIfReadable("credentials file", keyRing.path);
      },
      (error: Error) =>
        console.error(
          `cmqd: SIGHUP: credentials not reloaded, the ${keysText(keyRing.size)} in use ` +
            `${keyRing.size === 1 ? "stays" : "stay"}: ` +
            error.message,
        ),
    );
  });
  return hangup;
}

/** Warns when a secret file can be read by other users (only warns: a deployment keeps starting). */
async function warnIfReadable(what: string, path: string): Promise<void> {
  const warning = await secretFileWarning(what, path);
  if (warning !== null) console.error(`cmqd: WARNING: ${warning}`);
}

/** The files of `--tls-cert`, `--tls-key` and `--tls-ca`; one that can't be used ends the process. */
async function loadTls(config: NodeConfig): Promise<TlsFiles> {
  let files: TlsFiles;
  try {
    files = await loadTlsFiles(config);
  } catch (error) {
    exitWith((error as Error).message);
  }
  const warning = files.server === null
    ? null
    : certificateExpiryWarning(files.server.cert, Date.now());
  const names = files.server === null ? null : servedNamesWarning(config, files.server.cert);
  for (const line of [warning, names]) {
    if (line !== null) {
      console.error(`cmqd ${config.nodeId}: WARNING: --tls-cert ${config.tlsCert}: ${line}`);
    }
  }
  if (config.tlsKey !== null) await warnIfReadable("--tls-key file", config.tlsKey);
  return files;
}

/** Exit status of a join the cluster could not be reached for (EX_UNAVAILABLE of sysexits.h). */
const joinUnavailableExitCode = 69;

/**
 * Ends the process after a failed `--join`, in one line: status 2 when the cluster refused it,
 * `joinUnavailableExitCode` when it could not be reached; anything else is rethrown.
 */
function joinFailed(config: NodeConfig, error: unknown): never {
  if (!(error instanceof JoinError)) throw error;
  const code = error.refused ? 2 : joinUnavailableExitCode;
  console.error(
    `cmqd ${config.nodeId}: not joining: ${error.message}; exiting with status ${code}`,
  );
  Deno.exit(code);
}

/**
 * Exits (status 2, one line) when the peer port can't be listened on, before the data directory
 * is claimed; `startTransport` listens on it for real (and says the same if it was taken since).
 */
function peerPortFreeOrExit(config: NodeConfig): void {
  try {
    Deno.listen({ hostname: config.host, port: config.peerPort }).close();
  } catch (error) {
    peerListenFailed(config, error);
  }
}

/** Ends the process for a peer port that can't be listened on; anything else is rethrown. */
function peerListenFailed(config: NodeConfig, error: unknown): never {
  if (
    !(error instanceof Deno.errors.AddrInUse || error instanceof Deno.errors.PermissionDenied ||
      error instanceof Deno.errors.AddrNotAvailable)
  ) throw error;
  console.error(
    `cmqd ${config.nodeId}: cannot listen for peers on ${config.host}:${config.peerPort} ` +
      `(--peer-port): ${error.message}`,
  );
  Deno.exit(2);
}

/**
 * Starts the peer listener and links; a peer port that can't be listened on (in use, not
 * allowed) ends the process in one line, naming it (status 2, as for the client port).
 */
async function startTransport(
  config: NodeConfig,
  options: Parameters<typeof TcpTransport.start>[0],
): Promise<TcpTransport> {
  try {
    return await TcpTransport.start(options);
  } catch (error) {
    peerListenFailed(config, error);
  }
}

/** The node's bound on requests held across a freeze, its ticker running for the process's life. */
function heldRequests(maxS: number): HeldRequests {
  const held = new HeldRequests({ msMax: maxS * 1000 });
  held.start();
  return held;
}

async function loadKey(config: NodeConfig): Promise<Uint8Array | null> {
  try {
    return await loadClusterKey({ file: config.clusterKeyFile, text: config.clusterKey });
  } catch (error) {
    exitWith(`not starting: ${(error as Error).message}`);
  }
}

if (import.meta.main) await main();
