/**
 * The settings only a cluster member uses, on a node that runs alone (no `--peers`, `--join` or
 * `--force-new-cluster`): such a node has no peer port, no peer links, connects to no member and
 * takes no joins (it does once restarted with `--peers` naming itself alone).
 *
 * @module
 */
import type { NodeConfig } from "./config.ts";

/** What only a cluster member uses: its peer listener, its peer links, its connections to members. */
const clusterOnly = ["peerPort", "peerTls", "tlsCa", "clusterKeyFile", "clusterKey"] as const;

/**
 * Refuses a cluster-only flag given to a node that runs alone (most likely `--peers` was
 * forgotten, and the node would start a cluster of its own); puts a cluster-only variable back
 * to its default, unread (an environment every node of a deployment shares may carry them), and
 * returns the names of those. `--help` and `--version` refuse nothing. `sources` says where each
 * value came from: a flag's name (`--...`) or a variable's.
 *
 * @example
 * ```ts
 * leaveClusterOnly(config, { peerTls: "--peer-tls" }, defaults); // throws: --peer-tls: only a ...
 * ```
 */
export function leaveClusterOnly(
  config: NodeConfig,
  sources: Partial<Record<keyof NodeConfig, string>>,
  defaults: NodeConfig,
): string[] {
  const unused: string[] = [];
  for (const key of clusterOnly) {
    const source = sources[key];
    if (source === undefined) continue;
    const isFlag = source.startsWith("--");
    if (isFlag && !config.help && !config.version) {
      throw new Error(
        `${source}: only a cluster member uses it, and without --peers, --join or ` +
          "--force-new-cluster this node runs alone: add --peers (this node's own entry alone " +
          `makes a cluster of one that others can --join), or drop ${source}`,
      );
    }
    (config as unknown as Record<string, unknown>)[key] = defaults[key];
    if (!isFlag) unused.push(source);
  }
  return unused;
}
