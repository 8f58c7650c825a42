/**
 * A cluster of initial voters (`--peers`) and one node that joins it (`--join`), as real processes:
 * the setup the join and restart tests share. Every process started is kept in `processes`, so the
 * test's `finally` can kill them all (`killAll`) and remove `root`.
 *
 * @module
 */
import { type BrokerProcess, clusterPorts, eventually, freePort, startBroker } from "./process.ts";

/** What `GET /v1/cluster` answers that these tests read. */
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

/** The voters of a view, sorted. */
export const voters = (view: ClusterView): string[] =>
  view.nodes.filter((node) => node.role !== "learner").map((node) => node.id).sort();

/** The processes of a joined cluster and how to start each (see the module). */
export interface JoinedCluster {
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
  const { specs, peers } = clusterPorts(options.voterIds);
  const joiner = { id: options.joinerId, port: freePort(), peerPort: freePort() };
  const url = (id: string) =>
    `http://127.0.0.1:${[...specs, joiner].find((spec) => spec.id === id)!.port}`;
  const processes = new Map<string, BrokerProcess>();
  const start = async (id: string, port: number, args: string[]) => {
    processes.set(id, await startBroker({ dataDir: `${root}/${id}`, port, args }));
  };
  return {
    url,
    processes,
    startVoter: (id) => {
      const spec = specs.find((spec) => spec.id === id)!;
      return start(id, spec.port, [
        ...["--node-id", id, "--peer-port", String(spec.peerPort), "--peers", peers],
      ]);
    },
    startJoiner: () =>
      start(joiner.id, joiner.port, [
        ...["--node-id", joiner.id, "--peer-port", String(joiner.peerPort)],
        ...["--join", url(options.joinThrough)],
      ]),
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
    killAll: async () => {
      for (const process of processes.values()) await process.kill();
    },
  };
}
