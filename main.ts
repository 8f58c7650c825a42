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
import { parseConfig, usage } from "./broker/config.ts";
import { noPeers, type PeerAddress, realTimers, startNode, TcpTransport } from "./broker/mod.ts";
import { RealFileSystem } from "./storage/mod.ts";
import type { NodeId } from "./raft/mod.ts";

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
      peers: config.peers.filter((peer) => peer.id !== config.nodeId) as PeerAddress[],
    })
    : noPeers();
  const node = await startNode({
    nodeId: config.nodeId,
    dataDir: config.dataDir,
    fs: new RealFileSystem(),
    clock: { now: () => Date.now() },
    timers: realTimers,
    transport,
    initialVoters: clustered ? config.peers.map((peer) => peer.id) : [config.nodeId],
    url,
    mmap: config.mmap,
  });
  handler = node.handler;
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
    // Order matters: stop accepting, let in-flight writes reach the disk, then close the log.
    controller.abort();
    await node.close();
    await server.finished.catch(() => {});
    console.log(`cmqd ${config.nodeId}: stopped`);
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", () => void stop("SIGINT"));
  Deno.addSignalListener("SIGTERM", () => void stop("SIGTERM"));
}

if (import.meta.main) await main();
