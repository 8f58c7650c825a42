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
  type CmqdNode,
  noPeers,
  parseConfig,
  type PeerAddress,
  realTimers,
  startNode,
  TcpTransport,
  usage,
} from "./broker/mod.ts";
import { DataDirLockedError, lockDataDir, RealFileSystem } from "./storage/mod.ts";
import type { NodeId } from "./raft/mod.ts";
import type { ClusterInfo, JoinRequest } from "./sdk/mod.ts";

async function main(): Promise<void> {
  let config;
  try {
    config = parseConfig(Deno.args, Deno.env.toObject());
  } catch (error) {
    console.error(`cmqd: ${(error as Error).message}\n\n${usage}`);
    Deno.exit(2);
  }
  if (config.help) {
    console.log(usage);
    return;
  }
  // Before anything listens or opens the log: a second process must change nothing.
  try {
    await lockDataDir(config.dataDir);
  } catch (error) {
    if (!(error instanceof DataDirLockedError)) throw error;
    console.error(`cmqd ${config.nodeId}: ${error.message}`);
    Deno.exit(1);
  }
  const host = `http://${config.host.includes(":") ? `[${config.host}]` : config.host}`;
  const controller = new AbortController();
  // Listen first (port 0 picks one), so the URL peers learn is the real one; requests wait for
  // the node below.
  let handler: ((request: Request) => Promise<Response>) | null = null;
  const early = () =>
    Response.json({ error: { code: "NotReady", message: "starting", requestId: "" } }, {
      status: 503,
      headers: { "retry-after": "1" },
    });
  const server = Deno.serve({
    hostname: config.host,
    port: config.port,
    signal: controller.signal,
    onListen: () => {}, // the URL is printed once the node is ready
  }, (request) => handler ? handler(request) : early());
  const url = `${host}:${server.addr.port}`;
  const clustered = config.peers.length > 0 || config.join !== null;
  const transport = clustered
    ? await TcpTransport.start({
      nodeId: config.nodeId as NodeId,
      listen: { hostname: config.host, port: config.peerPort },
      clientUrl: url,
      advertisedAddress: `${config.host}:${config.peerPort}`,
      peers: config.peers.filter((peer) => peer.id !== config.nodeId) as PeerAddress[],
    })
    : noPeers();
  const node = await startNode({
    nodeId: config.nodeId,
    dataDir: config.dataDir,
    fs: new RealFileSystem(),
    clock: { now: () => Date.now() },
    monotonic: { now: () => performance.now() },
    timers: realTimers,
    transport,
    initialVoters: config.join !== null
      ? await bootstrapVotersOf(config.join)
      : clustered
      ? config.peers.map((peer) => peer.id)
      : [config.nodeId],
    url,
    mmap: config.mmap,
    minFreeDiskBytes: config.minFreeDiskMb * 1024 * 1024,
  });
  handler = node.handler;
  node.onFatal((error) => void die(node, config.nodeId, error));
  if (config.join !== null) {
    await joinCluster(config.join, {
      id: config.nodeId,
      peerAddress: `${config.host}:${
        transport instanceof TcpTransport ? transport.address.port : config.peerPort
      }`,
      clientUrl: url,
    });
  }
  // "Ready" for a one-node group means it leads; a cluster member is ready once it serves (its
  // peers may not be up yet, and an election needs them).
  for (let waited = 0; !clustered && !node.replica.isLeader && waited < 10_000; waited += 10) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  console.log(`cmqd ${config.nodeId} serving ${url}`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`cmqd ${config.nodeId}: ${signal}, shutting down`);
    // Order matters: hand leadership over while still serving (requests then forward to the
    // new leader), stop accepting, let in-flight writes settle, then close the log.
    await node.handOffLeadership();
    controller.abort();
    await node.close();
    await server.finished.catch(() => {});
    console.log(`cmqd ${config.nodeId}: stopped`);
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", () => void stop("SIGINT"));
  Deno.addSignalListener("SIGTERM", () => void stop("SIGTERM"));
}

/** Exit status after a storage failure (EX_IOERR of sysexits.h). */
const storageFailureExitCode = 74;

/**
 * A failed write or fsync: the node already refuses everything and claims no leader. Carrying on
 * would leave a zombie that answers 503 forever; restarting recovers from what is really on disk
 * (the damage record makes the restart cut the unsynced tail). Waits briefly for that record.
 */
async function die(node: CmqdNode, nodeId: string, error: Error): Promise<void> {
  console.error(
    `cmqd ${nodeId}: FATAL: storage failed: ${error.message}; exiting with status ` +
      `${storageFailureExitCode} so that a restart recovers from what is on disk`,
  );
  const recordedMsMax = 2000;
  await Promise.race([
    node.log.close().catch(() => {}),
    new Promise((resolve) => setTimeout(resolve, recordedMsMax)),
  ]);
  Deno.exit(storageFailureExitCode);
}

/**
 * The membership a joining node starts from: the group's initial voters, so that replaying the
 * log's membership changes gives the group's current membership (used on a new data dir only).
 */
async function bootstrapVotersOf(memberUrl: string): Promise<string[]> {
  for (let attempt = 1; attempt <= 100; attempt++) {
    try {
      const response = await fetch(`${memberUrl}/v1/cluster`);
      const info = await response.json() as ClusterInfo;
      if (response.ok && info.bootstrapVoters) return info.bootstrapVoters;
    } catch (error) {
      console.log(`cmqd: asking ${memberUrl} for the cluster: ${(error as Error).message}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`${memberUrl} did not tell its membership`);
}

/**
 * Asks a member to add this node (it forwards to the leader), retrying while the cluster has no
 * leader or the node has not caught up yet. Bounded: gives up after `joinMsMax`.
 */
async function joinCluster(memberUrl: string, request: JoinRequest): Promise<void> {
  const joinMsMax = 10 * 60_000;
  const deadline = Date.now() + joinMsMax;
  for (let attempt = 1;; attempt++) {
    try {
      const response = await fetch(`${memberUrl}/v1/cluster/nodes`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(request),
      });
      const text = await response.text();
      if (response.ok) {
        console.log(`cmqd ${request.id}: joined the cluster through ${memberUrl}`);
        return;
      }
      if (response.status < 500) throw new Error(`join refused (${response.status}): ${text}`);
      console.log(`cmqd ${request.id}: join attempt ${attempt}: ${response.status} ${text}`);
    } catch (error) {
      if ((error as Error).message.startsWith("join refused")) throw error;
      console.log(`cmqd ${request.id}: join attempt ${attempt}: ${(error as Error).message}`);
    }
    if (Date.now() > deadline) throw new Error(`could not join through ${memberUrl}`);
    await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 200 * attempt)));
  }
}

if (import.meta.main) await main();
