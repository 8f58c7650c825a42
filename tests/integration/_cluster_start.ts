/**
 * A cluster of real `main.ts` processes as the cluster tests start it: initial voters with
 * `--peers`, and other nodes (joiners) started with flags of the test's choosing, each on its own
 * free client and peer ports and in `root/<id>`. Every process started is kept in `processes` (a
 * restart replaces its node's entry), so that `killAll` ends them all; `withCluster` makes `root`,
 * runs the test, and then kills every process and removes `root`, whatever the test did.
 *
 * @module
 */
import { type BrokerProcess, clusterPorts, eventually, freePort, startBroker } from "./process.ts";

/** What `GET /v1/cluster` answers that the cluster tests read. */
export interface ClusterView {
  leaderId: string | null;
  commitIndex: number;
  canVote?: boolean;
  nodes: { id: string; role: string }[];
}

/** `GET /v1/cluster` of the node at `url`; throws on an error answer. */
export async function clusterOf(url: string): Promise<ClusterView> {
  const response = await fetch(`${url}/v1/cluster`);
  if (!response.ok) throw new Error(`${response.status} ${await response.text()}`);
  return await response.json() as ClusterView;
}

/** A node's id and the ports it gets. */
export interface NodeSpec {
  id: string;
  port: number;
  peerPort: number;
}

/** The nodes of a cluster, their processes, and how to start them (see the module). */
export interface Cluster {
  root: string;
  /** The initial voters, then the other nodes, in the order given. */
  specs: NodeSpec[];
  /** The initial voters' `--peers` list. */
  peers: string;
  /** The last process started for each node. */
  processes: Map<string, BrokerProcess>;
  spec(id: string): NodeSpec;
  /** The node's client URL on 127.0.0.1. */
  url(id: string): string;
  /** Starts node `id` with `--node-id`, `--peer-port` and then `args`. */
  start(id: string, args: string[]): Promise<BrokerProcess>;
  /** Starts the initial voter `id` with `--peers`: the cluster's list, unless `peers` is given. */
  startVoter(id: string, peers?: string): Promise<BrokerProcess>;
  /**
   * Starts every initial voter: `"together"` all at once, `"in turn"` each once the one before
   * serves. A failed start rejects; the processes that did start are in `processes`.
   */
  startVoters(how: "together" | "in turn"): Promise<void>;
  /** Waits until node `via` names a leader, and returns its id. */
  leaderVia(via: string): Promise<string>;
  /** Removes node `id` through `leader` (`DELETE /v1/cluster/nodes/{id}`), asked until it is done. */
  removeNode(id: string, leader: string): Promise<void>;
  /** Resumes (SIGCONT, in case the test froze it) and kills (SIGKILL) every process started. */
  killAll(): Promise<void>;
}

/** The initial voters `voters` (started with `--peers`) and the nodes `others`, under `root`. */
export function cluster(
  root: string,
  options: {
    voters: string[];
    others?: string[];
    /** Passed as `--advertise-host` to every node started. */
    advertiseHost?: string;
    /** More environment variables of every node started. */
    env?: Record<string, string>;
  },
): Cluster {
  const { specs: voterSpecs, peers } = clusterPorts(options.voters);
  const others = (options.others ?? []).map((id) => ({
    id,
    port: freePort(),
    peerPort: freePort(),
  }));
  const specs = [...voterSpecs, ...others];
  const processes = new Map<string, BrokerProcess>();
  const spec = (id: string) => {
    const found = specs.find((each) => each.id === id);
    if (found === undefined) throw new Error(`no node ${id} in this cluster`);
    return found;
  };
  const url = (id: string) => `http://127.0.0.1:${spec(id).port}`;
  const start = async (id: string, args: string[]) => {
    const process = await startBroker({
      dataDir: `${root}/${id}`,
      port: spec(id).port,
      advertiseHost: options.advertiseHost,
      env: options.env,
      args: ["--node-id", id, "--peer-port", String(spec(id).peerPort), ...args],
    });
    processes.set(id, process);
    return process;
  };
  const startVoter = (id: string, peerList = peers) => start(id, ["--peers", peerList]);
  return {
    root,
    specs,
    peers,
    processes,
    spec,
    url,
    start,
    startVoter,
    startVoters: async (how) => {
      if (how === "together") {
        await Promise.all(options.voters.map((id) => startVoter(id)));
      } else {
        for (const id of options.voters) await startVoter(id);
      }
    },
    leaderVia: (via) =>
      eventually("a leader", async () => (await clusterOf(url(via))).leaderId ?? undefined),
    removeNode: async (id, leader) => {
      await eventually(`the removal of ${id}`, async () => {
        const response = await fetch(`${url(leader)}/v1/cluster/nodes/${id}`, { method: "DELETE" });
        await response.body?.cancel();
        return response.status === 204 ? true : undefined;
      });
    },
    killAll: async () => {
      for (const process of processes.values()) {
        try {
          Deno.kill(process.pid, "SIGCONT");
        } catch { /* it has exited */ }
        await process.kill();
      }
    },
  };
}

/**
 * Runs `test` on a {@link cluster} in a new temp directory named with `prefix`; then kills every
 * process it started and removes the directory, whether the test passed or not.
 */
export function withCluster(
  prefix: string,
  options: Parameters<typeof cluster>[1],
  test: (cluster: Cluster) => Promise<void>,
): Promise<void> {
  return inTempRoot(prefix, (root) => cluster(root, options), test);
}

/**
 * Makes a temp directory named with `prefix`, the processes `make` sets up there, and runs `test`
 * on them; then `killAll` and the directory removed, whether the test passed or not.
 */
export async function inTempRoot<T extends { killAll(): Promise<void> }>(
  prefix: string,
  make: (root: string) => T,
  test: (processes: T) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix });
  const processes = make(root);
  try {
    await test(processes);
  } finally {
    await processes.killAll();
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
}
