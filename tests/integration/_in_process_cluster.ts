/**
 * Three nodes in one process over real sockets (`TcpTransport` on loopback, each node's handler
 * served on its own client port), for tests that reach into a node (its replica, its machine)
 * while peers and clients talk to it over TCP. `close` stops the servers and nodes and removes the
 * data directory.
 *
 * @module
 */
import {
  type CmqdNode,
  FileKeyRing,
  realTimers,
  startNode,
  TcpTransport,
} from "../../broker/testing.ts";
import type { NodeId } from "../../raft/mod.ts";
import { RealFileSystem } from "../../storage/mod.ts";
import { waitFor } from "../../sdk/_test_helpers.ts";
import { freePort, testClusterKeyText } from "./process.ts";

/** The cluster key the nodes share (the test key of `process.ts`). */
export const inProcessClusterKey = new TextEncoder().encode(testClusterKeyText);

/** Waits until `probe` holds, 30 s at most (the SDK tests' `waitFor`, with a cluster's deadline). */
export function until(what: string, probe: () => boolean): Promise<void> {
  return waitFor(what, probe, 30_000);
}

/** The nodes n1, n2, n3 and what a test reads of them. */
export interface InProcessCluster {
  nodes: CmqdNode[];
  transports: TcpTransport[];
  peerPorts: number[];
  /** Each node's client URL, served by its handler. */
  urls: string[];
  /** What each node warned (its `warn` lines), in order. */
  warnings: string[][];
  close(): Promise<void>;
}

/**
 * Starts n1, n2, n3 as initial voters under a temporary directory named from `prefix`. With
 * `key`, the members' doors require access keys and that one is the only key.
 */
export async function startInProcessCluster(
  prefix: string,
  key?: { secretId: string; secretKey: string },
): Promise<InProcessCluster> {
  const root = await Deno.makeTempDir({ prefix });
  const ids = ["n1", "n2", "n3"];
  const peerPorts = ids.map(() => freePort());
  const urls = ids.map(() => `http://127.0.0.1:${freePort()}`);
  const warnings: string[][] = ids.map(() => []);
  const servers: Deno.HttpServer[] = [];
  const nodes: CmqdNode[] = [];
  const transports: TcpTransport[] = [];
  for (const [i, id] of ids.entries()) {
    const transport = await TcpTransport.start({
      nodeId: id as NodeId,
      listen: { hostname: "127.0.0.1", port: peerPorts[i] },
      clientUrl: urls[i],
      peers: ids.map((peer, j) => ({
        id: peer as NodeId,
        peerAddress: `127.0.0.1:${peerPorts[j]}`,
      }))
        .filter((peer) => peer.id !== id),
      clusterKey: inProcessClusterKey,
      log: () => {},
    });
    transports.push(transport);
    nodes.push(
      await startNode({
        nodeId: id,
        dataDir: `${root}/${id}`,
        fs: new RealFileSystem(),
        clock: { now: () => Date.now() },
        timers: realTimers,
        transport,
        initialVoters: ids,
        url: urls[i],
        tickMs: 20,
        clusterKey: inProcessClusterKey,
        warn: (message) => warnings[i].push(message),
        report: () => {},
        access: key === undefined ? undefined : {
          keyRing: FileKeyRing.fromKeys([{ ...key, allow: ["*"] }]),
          loopbackOnly: false,
        },
      }),
    );
  }
  for (const [i, node] of nodes.entries()) {
    const port = Number(new URL(urls[i]).port);
    servers.push(Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, node.handler));
  }
  return {
    nodes,
    transports,
    peerPorts,
    urls,
    warnings,
    async close() {
      for (const server of servers) await server.shutdown();
      for (const node of nodes) await node.close();
      await Deno.remove(root, { recursive: true });
    },
  };
}
