/**
 * A cluster of initial voters (`--peers`) and one node that joins it (`--join`), as real processes:
 * the setup the join and restart tests share. Every process started is kept in `processes`, so that
 * `killAll` ends them all; `withJoinedCluster` makes `root`, runs the test, then kills every process
 * and removes `root`, whatever the test did.
 *
 * @module
 */
import { type BrokerProcess, eventually } from "./process.ts";
import { cluster, clusterOf, type ClusterView, inTempRoot } from "./_cluster_start.ts";

export { clusterOf, type ClusterView };

/** The voters of a view, sorted. */
export const voters = (view: ClusterView): string[] =>
  view.nodes.filter((node) => node.role !== "learner").map((node) => node.id).sort();

/** The processes of a joined cluster and how to start each (see the module). */
export interface JoinedCluster {
  root: string;
  url(id: string): string;
  processes: Map<string, BrokerProcess>;
  /** Starts the initial voter `id` with `--peers`. */
  startVoter(id: string): Promise<void>;
  /** Starts the joining node, always with the same command (as in a unit file). */
  startJoiner(): Promise<void>;
  /** Creates queue `name` through the leader `via` names, retrying until one answers. */
  createQueue(name: string, via: string): Promise<void>;
  killAll(): Promise<void>;
}

/** Ports for `voterIds` and `joinerId`, whose `--join` goes to `joinThrough`. */
export function joinedCluster(
  root: string,
  options: { voterIds: string[]; joinerId: string; joinThrough: string },
): JoinedCluster {
  const nodes = cluster(root, { voters: options.voterIds, others: [options.joinerId] });
  const url = nodes.url;
  return {
    root,
    url,
    processes: nodes.processes,
    startVoter: async (id) => {
      await nodes.startVoter(id);
    },
    startJoiner: async () => {
      await nodes.start(options.joinerId, ["--join", url(options.joinThrough)]);
    },
    createQueue: async (name, via) => {
      await eventually(`queue ${name} created`, async () => {
        const leader = (await clusterOf(url(via))).leaderId;
        if (leader === null) return undefined;
        const response = await fetch(`${url(leader)}/v1/queues/${name}`, {
          method: "PUT",
          headers: { "content-type": "application/json" },
          body: "{}",
        });
        await response.body?.cancel();
        return response.ok ? true : undefined;
      });
    },
    killAll: nodes.killAll,
  };
}

/**
 * Runs `test` on a {@link joinedCluster} in a new temp directory named with `prefix`; then kills
 * every process it started and removes the directory, whether the test passed or not.
 */
export function withJoinedCluster(
  prefix: string,
  options: Parameters<typeof joinedCluster>[1],
  test: (cluster: JoinedCluster) => Promise<void>,
): Promise<void> {
  return inTempRoot(prefix, (root) => joinedCluster(root, options), test);
}
