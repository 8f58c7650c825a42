/**
 * The checks of the configuration that concern a node in a cluster (`parseConfig` runs them): its
 * peer port and its advertised host, `--force-new-cluster`, and the cluster key.
 *
 * @module
 */
import type { NodeConfig } from "./config.ts";

/** The environment variable that carries the cluster key itself. */
export const clusterKeyEnv = "CMQD_CLUSTER_KEY";
/** Fewest characters of a cluster key (`openssl rand -hex 32` gives 64). */
export const clusterKeyCharsMin = 32;
/** Most characters of a cluster key. */
export const clusterKeyCharsMax = 4096;

/**
 * With `--port 0` and no `--peer-port` the peer listener would take a free port too, and the
 * other members, who dial this node at the port its own `--peers` entry names, could never reach
 * it. (Another `--peer-port` than the entry's is left alone: a port mapped by a container or a
 * NAT is a real setup.)
 */
export function checkOwnPeerPort(config: NodeConfig): void {
  const own = config.peers.find((peer) => peer.id === config.nodeId);
  if (own === undefined || config.peerPort !== 0) return;
  const port = own.peerAddress.slice(own.peerAddress.lastIndexOf(":") + 1);
  throw new Error(
    `--peers names this node's peer address ${own.peerAddress}, but with --port 0 it would ` +
      `listen for peers on a free port: give --peer-port ${port}`,
  );
}

/**
 * Whether the node takes part in a cluster: it then listens on its peer port and needs the
 * cluster key. A node forced to be the sole voter is one (others join it later).
 */
export function isClusterMember(
  config: Pick<NodeConfig, "peers" | "join" | "forceNewCluster">,
): boolean {
  return config.peers.length > 0 || config.join !== null || config.forceNewCluster;
}

/**
 * `--force-new-cluster` recovers a surviving member's data directory as the sole voter: an
 * empty node has nothing to recover (`--join` adds one to a group), and `--peers` names the
 * initial voters of a new group, the opposite of what the flag does. (That the data directory
 * holds a log is checked by `main.ts` before it is touched, and again when the log is open.)
 */
export function checkForceNewCluster(config: NodeConfig): void {
  if (config.join !== null) {
    throw new Error(
      "--force-new-cluster recovers the data of a surviving member and --join adds an empty " +
        "node to a running group: give one of them (join the fresh nodes to the recovered one " +
        "once it runs)",
    );
  }
  if (config.peers.length > 0) {
    throw new Error(
      "--force-new-cluster makes this node the sole voter, whatever its log's membership; " +
        "--peers would name initial voters, which only a new data directory uses: drop --peers " +
        "(the node listens for peers on --peer-port)",
    );
  }
}

/** Addresses that mean "every interface": fine to listen on, useless to dial. */
const wildcardHosts = new Set(["0.0.0.0", "::", "[::]", "0:0:0:0:0:0:0:0"]);

/**
 * The host a node tells others about: `--advertise-host`, else `--host`, in the form it takes
 * before `:port` in its client URL and its peer address: an IPv6 literal in brackets (`fd00::5`
 * gives `[fd00::5]`, which a member's join and `--peers` accept; `fd00::5:9877` they refuse). A
 * cluster member listening on a wildcard must say which address reaches it, or its peers and the
 * clients it sends to the leader would dial `0.0.0.0`.
 */
export function advertisedHostOf(config: Pick<NodeConfig, "host" | "advertiseHost">): string {
  const host = config.advertiseHost ?? config.host;
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

export function checkAdvertisedHost(config: NodeConfig): void {
  const host = config.advertiseHost;
  if (host !== null && (wildcardHosts.has(host) || /[\s/]/.test(host))) {
    throw new Error(
      `--advertise-host: '${host}' can't be dialled; give the name or address that reaches ` +
        "this node from the others (e.g. 10.0.0.1 or node1.internal)",
    );
  }
  if (isClusterMember(config) && host === null && wildcardHosts.has(config.host)) {
    throw new Error(
      `--host ${config.host} listens on every interface, but the other members need an ` +
        "address to reach this node by: add --advertise-host NAME (e.g. 10.0.0.1 or " +
        "node1.internal)",
    );
  }
  // The node's URL is built of it: `localhost:8080` made `http://[localhost:8080]:9876`, which
  // ended the start with an uncaught TypeError once the log was open.
  if (!isUrlHost(advertisedHostOf(config))) {
    const given = host ?? config.host;
    throw new Error(
      `${host === null ? "--host" : "--advertise-host"}: '${given}' is not a host name or ` +
        "address (no port, user or path: the ports are --port and --peer-port)",
    );
  }
}

/** Whether `host` (an IPv6 literal bracketed) is the whole host of `http://host:1/`. */
function isUrlHost(host: string): boolean {
  if (!URL.canParse(`http://${host}:1/`)) return false;
  const url = new URL(`http://${host}:1/`);
  return url.username === "" && url.password === "" && url.port === "1" &&
    url.pathname === "/" && url.search === "" && url.hash === "";
}

/** One cluster key, of a length a key has (also on a lone node, which does not use it). */
export function checkClusterKeyValue(config: NodeConfig): void {
  if (config.clusterKeyFile !== null && config.clusterKey !== null) {
    throw new Error(`--cluster-key-file and ${clusterKeyEnv} both give a cluster key; give one`);
  }
  if (config.clusterKey !== null) {
    const length = config.clusterKey.trim().length;
    if (length < clusterKeyCharsMin || length > clusterKeyCharsMax) {
      throw new Error(
        `${clusterKeyEnv}: a cluster key has ${clusterKeyCharsMin}–${clusterKeyCharsMax} ` +
          `characters, got ${length} (make one with: openssl rand -hex 32)`,
      );
    }
  }
}

/**
 * A cluster member must hold the cluster key: without it any host that can reach the peer port
 * could take part in Raft. A key file is read at start.
 */
export function checkClusterKey(config: NodeConfig): void {
  if (isClusterMember(config) && config.clusterKeyFile === null && config.clusterKey === null) {
    const flag = config.join !== null
      ? "--join"
      : config.forceNewCluster
      ? "--force-new-cluster"
      : "--peers";
    throw new Error(
      `${flag} needs the cluster key every member holds: ` +
        `--cluster-key-file FILE or ${clusterKeyEnv} (make one with: openssl rand -hex 32 > ` +
        "cluster.key; chmod 600 cluster.key; copy it to every node)",
    );
  }
}
