/**
 * Node configuration from flags and `CMQD_*` environment variables (flags win). Pure: `main.ts`
 * passes `Deno.args` and the environment in.
 *
 * Protected mode (README, "Security"): without `--credentials` the broker serves loopback clients
 * only, so listening on any other address is refused here unless `--insecure` says that serving
 * everyone without authentication is what is wanted.
 *
 * @module
 */
import { isLoopbackAddress } from "../auth/mod.ts";
import { checkEnvNames, unknownEnvWarnings } from "./config_env.ts";
import { leaveClusterOnly } from "./config_lone.ts";
import {
  checkAdvertisedHost,
  checkClusterKey,
  checkClusterKeyValue,
  checkForceNewCluster,
  checkOwnPeerPort,
  clusterKeyEnv,
  isClusterMember,
} from "./config_cluster.ts";
import { convert, type ValueKind } from "./config_values.ts";

export { parsePeers } from "./config_values.ts";
export {
  advertisedHostOf,
  clusterKeyCharsMax,
  clusterKeyCharsMin,
  clusterKeyEnv,
  isClusterMember,
} from "./config_cluster.ts";

/** The resolved configuration of one node. */
export interface NodeConfig {
  host: string;
  /**
   * The name or address other members and clients reach this node by (its client URL in leader
   * hints and forwarding, its peer address); null = `host`. Needed when `host` is a wildcard.
   */
  advertiseHost: string | null;
  port: number;
  dataDir: string;
  nodeId: string;
  /** Read segments through mmap (FFI); false forces plain reads. */
  mmap: boolean;
  /** Port of the peer (Raft) listener; 0 = the client port + 1. */
  peerPort: number;
  /** Initial voters `id=host:port` (peer addresses, this node included); empty = one-node group. */
  peers: PeerSpec[];
  /** Client URL of a running member to join through (as a learner, then promoted). */
  join: string | null;
  /**
   * The cluster id to record on an empty data directory instead of the one derived from
   * `peers` (or learned by `join`); checked against the stored one later. "none" = no id
   * (`cluster_id.ts`).
   */
  clusterId: string | null;
  /** Sends are refused (507) while less than this many MiB are free on the data dir; 0 = off. */
  minFreeDiskMb: number;
  /** MiB per second the background scrub reads of segments trusted by their index; 0 = off. */
  scrubMbPerS: number;
  /** Queues whose per-queue series (depths, dead-lettered) `/metrics` lists, the first by name; 0 = none. */
  metricsQueueSeries: number;
  /** Topics, and subscriptions over them, whose series `/metrics` lists, the first; 0 = none. */
  metricsTopicSeries: number;
  /** MiB of request bodies read at once (`BodyBudget`), ≥ `requestBodyBudgetMbMin`. */
  requestBodyBudgetMb: number;
  /** Seconds a request may be held before it is forwarded or its write proposed (`HeldRequests`). */
  heldRequestMaxS: number;
  /** File holding the cluster key; a cluster member needs it or `clusterKey`. */
  clusterKeyFile: string | null;
  /** The cluster key itself, from `CMQD_CLUSTER_KEY` only (a flag would show it in `ps`). */
  clusterKey: string | null;
  /** The credentials file (README, "Security"); null = none, protected mode. */
  credentials: string | null;
  /** Serve clients on any address without credentials (turns protected mode off). */
  insecure: boolean;
  /** PEM certificate chain and private key files: serve HTTPS (h2 by ALPN, HTTP/1.1 too). */
  tlsCert: string | null;
  tlsKey: string | null;
  /** Peer links over TLS with the `tlsCert`/`tlsKey` pair; every member must have it or none. */
  peerTls: boolean;
  /**
   * PEM CA certificates this node trusts when it opens a connection to another member: peer
   * links (`peerTls`), requests forwarded to the leader, `--join`. Added to the default roots.
   */
  tlsCa: string | null;
  /**
   * Networks HTTP pushes never connect to: CIDRs and the keywords `loopback`, `private`,
   * `link-local` (`broker/push/networks.ts`), as given (checked here); empty = none.
   */
  pushDenyNetworks: string[];
  /**
   * Make this node the sole voter of its group at start (the survivor of a majority lost for
   * good): every other member is removed, through the log. A flag only, no environment variable,
   * so that it can't be left on by accident: started again with it later, once the group grew
   * back, it would remove the new members too.
   */
  forceNewCluster: boolean;
  /**
   * The cluster-only variables the environment gave a node that runs alone (no `peers`, `join`
   * or `forceNewCluster`): not used, their values left at the defaults; `main.ts` says so.
   */
  unusedEnv: string[];
  /**
   * Warnings for the variables given a value that would be refused but overridden by a flag:
   * not used, so the start goes on; `main.ts` prints them.
   */
  overriddenEnv: string[];
  help: boolean;
  /** `--version`: print the release and its format versions, and exit. */
  version: boolean;
}

/** One initial voter of `--peers`. */
export interface PeerSpec {
  id: string;
  /** `host:port` of its peer listener. */
  peerAddress: string;
}

interface FlagSpec {
  key: keyof NodeConfig;
  /** Its environment variable; null for a flag that must be given on each start. */
  env: string | null;
  /**
   * `switch`: a flag without a value means true (`--insecure`); `--insecure=false` also works,
   * and the environment may say `1` or `0`.
   */
  kind: ValueKind;
  help: string;
  /** The default as `--help` says it, when not the value's JSON. */
  defaultText?: string;
}

const flags: Record<string, FlagSpec> = {
  "--host": { key: "host", env: "CMQD_HOST", kind: "string", help: "address to listen on" },
  "--advertise-host": {
    key: "advertiseHost",
    env: "CMQD_ADVERTISE_HOST",
    kind: "string",
    help: "name members and clients reach this node by",
    defaultText: "--host",
  },
  "--port": { key: "port", env: "CMQD_PORT", kind: "port", help: "client HTTP port (0 = any)" },
  "--data-dir": { key: "dataDir", env: "CMQD_DATA_DIR", kind: "string", help: "data directory" },
  "--node-id": { key: "nodeId", env: "CMQD_NODE_ID", kind: "nodeId", help: "this node's id" },
  "--mmap": { key: "mmap", env: "CMQD_MMAP", kind: "boolean", help: "read segments via mmap" },
  "--peer-port": {
    key: "peerPort",
    env: "CMQD_PEER_PORT",
    kind: "port",
    help: "peer (Raft) port, 0 = port + 1",
  },
  "--peers": {
    key: "peers",
    env: "CMQD_PEERS",
    kind: "peers",
    help: "initial voters id=host:port,...",
  },
  "--join": { key: "join", env: "CMQD_JOIN", kind: "url", help: "client URL of a member to join" },
  "--cluster-id": {
    key: "clusterId",
    env: "CMQD_CLUSTER_ID",
    kind: "clusterId",
    help: "id recorded on an empty data dir instead of the hash of --peers; the word none: no id",
  },
  "--min-free-disk-mb": {
    key: "minFreeDiskMb",
    env: "CMQD_MIN_FREE_DISK_MB",
    kind: "count",
    help: "refuse sends (507) below this free disk, 0 = off",
  },
  "--scrub-mb-per-s": {
    key: "scrubMbPerS",
    env: "CMQD_SCRUB_MB_PER_S",
    kind: "count",
    help: "MiB/s the background scrub re-reads sealed segments at, 0 = off",
  },
  "--request-body-budget-mb": {
    key: "requestBodyBudgetMb",
    env: "CMQD_REQUEST_BODY_BUDGET_MB",
    kind: "count",
    help: "MiB of request bodies read at once; past it 503, unread (at least 16)",
  },
  "--held-request-max-s": {
    key: "heldRequestMaxS",
    env: "CMQD_HELD_REQUEST_MAX_S",
    kind: "count",
    help:
      "seconds a request may be held (a frozen node) before it is forwarded or its send or publish proposed; past it 503 (at least 1)",
  },
  "--metrics-queue-series": {
    key: "metricsQueueSeries",
    env: "CMQD_METRICS_QUEUE_SERIES",
    kind: "count",
    help: "queues /metrics lists per-queue series for (the first by name), 0 = none",
  },
  "--metrics-topic-series": {
    key: "metricsTopicSeries",
    env: "CMQD_METRICS_TOPIC_SERIES",
    kind: "count",
    help: "topics, and subscriptions of them, /metrics lists series for (the first), 0 = none",
  },
  "--cluster-key-file": {
    key: "clusterKeyFile",
    env: "CMQD_CLUSTER_KEY_FILE",
    kind: "string",
    help: "file with the cluster key (or the key in CMQD_CLUSTER_KEY)",
  },
  "--credentials": {
    key: "credentials",
    env: "CMQD_CREDENTIALS",
    kind: "string",
    help: "credentials file (JSON keys; re-read on SIGHUP)",
  },
  "--insecure": {
    key: "insecure",
    env: "CMQD_INSECURE",
    kind: "switch",
    help: "serve any address without credentials",
  },
  "--tls-cert": { key: "tlsCert", env: "CMQD_TLS_CERT", kind: "string", help: "PEM cert chain" },
  "--tls-key": { key: "tlsKey", env: "CMQD_TLS_KEY", kind: "string", help: "PEM private key" },
  "--peer-tls": {
    key: "peerTls",
    env: "CMQD_PEER_TLS",
    kind: "switch",
    help: "peer links over TLS with the --tls-cert pair (all members or none)",
  },
  "--tls-ca": {
    key: "tlsCa",
    env: "CMQD_TLS_CA",
    kind: "string",
    help: "PEM CA file to verify members (peer TLS, forwarding, --join)",
  },
  "--push-deny-networks": {
    key: "pushDenyNetworks",
    env: "CMQD_PUSH_DENY_NETWORKS",
    kind: "networks",
    help: "CIDRs or loopback,private,link-local pushes never connect to",
  },
  "--force-new-cluster": {
    key: "forceNewCluster",
    env: null,
    kind: "switch",
    help: "make this survivor the sole voter, removing every other member (README)",
  },
};

/** The smallest body budget, MiB: the largest body (SQS query, 12 MiB + 256 KiB) must fit. */
export const requestBodyBudgetMbMin = 16;

const defaults: NodeConfig = {
  host: "127.0.0.1",
  advertiseHost: null,
  port: 9876,
  dataDir: "./data",
  nodeId: "n1",
  mmap: true,
  peerPort: 0,
  peers: [],
  join: null,
  clusterId: null,
  minFreeDiskMb: 512,
  scrubMbPerS: 32,
  requestBodyBudgetMb: 256,
  heldRequestMaxS: 60,
  metricsQueueSeries: 1000,
  metricsTopicSeries: 1000,
  clusterKeyFile: null,
  clusterKey: null,
  credentials: null,
  insecure: false,
  tlsCert: null,
  tlsKey: null,
  peerTls: false,
  tlsCa: null,
  pushDenyNetworks: [],
  forceNewCluster: false,
  unusedEnv: [],
  overriddenEnv: [],
  help: false,
  version: false,
};

/** Every variable the broker reads. */
const knownEnv = [
  ...Object.values(flags).flatMap((spec) => spec.env === null ? [] : [spec.env]),
  clusterKeyEnv,
];

/** The name a flag without a variable would have had, refused with the reason it has none. */
const flagOnlyEnv = {
  CMQD_FORCE_NEW_CLUSTER: "--force-new-cluster is a flag only, on purpose: one left in a unit " +
    "file would remove, at the next restart, the members that joined since. Unset it and give " +
    "the flag on the one start that needs it",
};

/**
 * Warnings for the `CMQD_` variables of `env` the broker does not know (typos in a unit file):
 * `main.ts` prints them at start; the broker runs on (see `config_env.ts`).
 */
export function envWarnings(env: Record<string, string>): string[] {
  return unknownEnvWarnings(env, knownEnv, flagOnlyEnv);
}

/** What `--help` writes in the environment column of a flag without a variable. */
export const flagOnly = "(flag only)";

/** A flag's default for `--help`: its value as JSON, or in words (`none`, another flag). */
function defaultHint(spec: FlagSpec): string {
  const value = defaults[spec.key];
  const text = spec.defaultText ?? (value === null ? "none" : JSON.stringify(value));
  return ` (default ${text})`;
}

/** The `--help` text. */
export const usage = usageLines().join("\n");

/** The lines of `--help`: flag, variable and meaning in columns as wide as their longest entry. */
function usageLines(): string[] {
  const flagWidth =
    Math.max(...Object.entries(flags).map(([flag, spec]) => (flag + valueHint(spec)).length)) + 1;
  const envWidth = Math.max(
    ...Object.values(flags).map((spec) => (spec.env ?? flagOnly).length),
    clusterKeyEnv.length,
  ) + 1;
  return [
    "usage: cmqd [flags]   (every flag but --force-new-cluster also as an environment variable; " +
    "flags win)",
    ...Object.entries(flags).map(([flag, spec]) =>
      `  ${(flag + valueHint(spec)).padEnd(flagWidth)} ${
        (spec.env ?? flagOnly).padEnd(envWidth)
      } ${spec.help}${defaultHint(spec)}`
    ),
    `  ${"".padEnd(flagWidth)} ${
      clusterKeyEnv.padEnd(envWidth)
    } the cluster key itself (instead of a file)`,
    `  ${"--version".padEnd(flagWidth)} ${
      "".padEnd(envWidth)
    } print the release and its format versions`,
    `  ${"--help, -h".padEnd(flagWidth)} ${"".padEnd(envWidth)} print this text`,
  ];
}

function valueHint(spec: FlagSpec): string {
  return spec.kind === "switch" ? "" : spec.kind === "boolean" ? " true|false" : " VALUE";
}

/**
 * Parses flags (`--port 1`, `--port=1`) over environment variables over defaults.
 *
 * @example
 * ```ts
 * parseConfig(["--port", "9000"], {}).port; // 9000
 * ```
 */
export function parseConfig(args: string[], env: Record<string, string>): NodeConfig {
  checkEnvNames(env, flagOnlyEnv);
  const config: Record<string, unknown> = { ...defaults };
  /** Where each value given came from (a flag's name or a variable's), for the checks below. */
  const sources: Partial<Record<keyof NodeConfig, string>> = {};
  // `deno task start -- --port 9000` passes the `--` on (npm strips it): a leading one marks
  // where the broker's own arguments begin, as the README's "The two commands" writes them.
  if (args[0] === "--") args = args.slice(1);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--help" || arg === "-h" || arg === "--version") {
      config[arg === "--version" ? "version" : "help"] = true;
      continue;
    }
    const [name, inline] = arg.includes("=") ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    if (name === "--help" || name === "-h" || name === "--version") {
      throw new Error(`${name} takes no value`);
    }
    const spec = flags[name];
    if (!spec && !name.startsWith("-")) {
      throw new Error(`unexpected argument '${arg}': cmqd takes flags only (--help lists them)`);
    }
    if (!spec) throw new Error(`unknown flag '${name}'`);
    const raw = inline ?? (spec.kind === "switch" ? "true" : args[++i]);
    if (raw === undefined) throw new Error(`${name} needs a value`);
    // A flag whose value was left out took the next flag as its value (`--data-dir --insecure`
    // made a directory named `--insecure`); a value that starts with `--` is given with `=`.
    if (inline === undefined && (raw.startsWith("--") || raw === "-h")) {
      throw new Error(
        `${name} needs a value, got the flag '${raw}' (write ${name}=${raw} for a value that ` +
          "starts with --)",
      );
    }
    config[spec.key] = convert(spec.kind, raw, name);
    sources[spec.key] = name;
  }
  config.overriddenEnv = readEnv(env, config, sources);
  if (env[clusterKeyEnv] !== undefined) {
    config.clusterKey = env[clusterKeyEnv];
    sources.clusterKey = clusterKeyEnv;
  }
  const result = config as unknown as NodeConfig;
  if (!result.help && !result.version) checkClusterKeyValue(result);
  if (!isClusterMember(result)) result.unusedEnv = leaveClusterOnly(result, sources, defaults);
  if (result.peerPort === 0 && result.port !== 0) {
    if (result.port === 65_535 && isClusterMember(result)) {
      throw new Error(
        `${sources.port ?? "--port"} 65535: the peer port defaults to the client port + 1, and ` +
          "65536 is no port: give --peer-port",
      );
    }
    result.peerPort = result.port + 1;
  }
  if (isClusterMember(result) && result.port !== 0 && result.peerPort === result.port) {
    throw new Error(
      `${sources.peerPort ?? "--peer-port"} ${result.peerPort} is the client port ` +
        `(${sources.port ?? "--port"}) too: the client and peer listeners need a port each (the ` +
        "peer port defaults to --port + 1)",
    );
  }
  if (result.peers.length > 0 && !result.peers.some((peer) => peer.id === result.nodeId)) {
    throw new Error(`--peers must include this node ('${result.nodeId}')`);
  }
  if (result.peers.length > 0 && result.join !== null) {
    throw new Error("--peers (a new cluster) and --join (an existing one) exclude each other");
  }
  if (result.forceNewCluster) checkForceNewCluster(result);
  if (result.peers.length > 0) checkOwnPeerPort(result);
  if ((result.tlsCert === null) !== (result.tlsKey === null)) {
    throw new Error("--tls-cert and --tls-key go together: give both files, or neither");
  }
  if (result.peerTls && result.tlsCert === null) {
    throw new Error(
      "--peer-tls serves this node's certificate on the peer port: give --tls-cert FILE and " +
        "--tls-key FILE (the same pair serves HTTPS to clients), and --tls-ca FILE unless the " +
        "default roots trust it",
    );
  }
  if (result.heldRequestMaxS < 1) {
    throw new Error(`--held-request-max-s: at least 1, got ${result.heldRequestMaxS}`);
  }
  if (result.requestBodyBudgetMb < requestBodyBudgetMbMin) {
    const least = `at least ${requestBodyBudgetMbMin} (MiB), for the largest request body`;
    throw new Error(`--request-body-budget-mb: ${least}, got ${result.requestBodyBudgetMb}`);
  }
  if (result.help || result.version) return result;
  checkAdvertisedHost(result);
  checkProtectedMode(result);
  checkClusterKey(result);
  return result;
}

/**
 * Puts into `config` the variables of `env` whose setting no flag gave (flags win); returns the
 * warnings for those a flag overrides whose value would be refused: never used, they don't stop
 * the start, but they would once the flag is dropped. A bad value no flag overrides throws.
 */
function readEnv(
  env: Record<string, string>,
  config: Record<string, unknown>,
  sources: Partial<Record<keyof NodeConfig, string>>,
): string[] {
  const warnings: string[] = [];
  for (const spec of Object.values(flags)) {
    const raw = spec.env === null ? undefined : env[spec.env];
    if (spec.env === null || raw === undefined) continue;
    const flag = sources[spec.key];
    if (flag === undefined) {
      config[spec.key] = convert(spec.kind, raw, spec.env);
      sources[spec.key] = spec.env;
      continue;
    }
    try {
      convert(spec.kind, raw, spec.env);
    } catch (error) {
      warnings.push(
        `${(error as Error).message} (not used: ${flag} overrides it; fix or unset it before ` +
          "dropping the flag)",
      );
    }
  }
  return warnings.sort();
}

/** Refuses a non-loopback `--host` without credentials unless `--insecure` (README, "Security"). */
function checkProtectedMode(config: NodeConfig): void {
  if (config.credentials !== null || config.insecure || isLoopbackAddress(config.host)) return;
  throw new Error(
    `refusing to listen on --host ${config.host} without a credentials file: anyone who can ` +
      `reach it could read, change and delete every queue. Give --credentials FILE (API keys ` +
      `with permissions, see the README's Security section), or --insecure to serve without ` +
      `authentication anyway (only on a network you trust). Without either, use a loopback ` +
      `--host such as 127.0.0.1.`,
  );
}
