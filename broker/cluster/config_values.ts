/**
 * The values of the broker's flags and `CMQD_*` variables, one kind at a time: each checked, and
 * a bad one refused in one line naming where it came from (a flag's name or a variable's).
 *
 * @module
 */
import { parseNetworks } from "../push/mod.ts";
import { clusterIdPattern } from "./cluster_id.ts";
import type { PeerSpec } from "./config.ts";

/** What a flag's value is; `switch`: a flag without a value means true (`--insecure`). */
export type ValueKind =
  | "string"
  | "port"
  | "boolean"
  | "switch"
  | "peers"
  | "url"
  | "count"
  | "nodeId"
  | "clusterId"
  | "networks";

/** `raw` as a value of `kind`; throws, naming `source`, for one it is not. */
export function convert(kind: ValueKind, raw: string, source: string): unknown {
  if (kind === "peers") return parsePeers(raw, source);
  if (kind === "networks") {
    // Checked now, so a bad entry stops the start (exit 2) with the entry named.
    parseNetworks(raw, source);
    return raw.split(",").map((entry) => entry.trim()).filter((entry) => entry !== "");
  }
  if (kind === "port") {
    const port = Number(raw);
    if (!/^\d+$/.test(raw) || port > 65_535) throw new Error(`${source}: not a port: '${raw}'`);
    return port;
  }
  if (kind === "count") {
    const count = Number(raw);
    if (/^\d{10,}$/.test(raw)) throw new Error(`${source}: at most 999999999, got '${raw}'`);
    if (!/^\d{1,9}$/.test(raw)) {
      throw new Error(`${source}: not a whole number (no unit): '${raw}'`);
    }
    return count;
  }
  if (kind === "switch" && (raw === "1" || raw === "0")) return raw === "1";
  if (kind === "boolean" || kind === "switch") {
    if (raw !== "true" && raw !== "false") {
      const or = kind === "switch" ? " (or 1 or 0)" : "";
      throw new Error(`${source}: expected true or false${or}, got '${raw}'`);
    }
    return raw === "true";
  }
  if (raw === "") throw new Error(`${source}: empty value`);
  if (kind === "nodeId" && !nodeIdPattern.test(raw)) {
    // The id is written into the data directory, signs --join requests and names the member in
    // every peer's membership, where only this form is accepted.
    throw new Error(
      `${source}: a node id is a letter, then letters, digits, '-' or '_', at most 64 ` +
        `characters, got '${raw}'`,
    );
  }
  if (kind === "clusterId" && !clusterIdPattern.test(raw)) {
    throw new Error(
      `${source}: a cluster id is 1 to 64 letters, digits, '.', '_' or '-' (or none), got '${raw}'`,
    );
  }
  if (kind === "url") {
    // The pattern, then the WHATWG parse: a port past 65535 or a bad host would otherwise pass
    // here and fail each request of the join instead.
    if (!/^https?:\/\/[^/\s]+\/?$/.test(raw) || !URL.canParse(raw)) {
      throw new Error(`${source}: not a base URL: '${raw}'`);
    }
    return raw.replace(/\/$/, "");
  }
  return raw;
}

/** A node id: what `--peers`, `--join` and the membership requests accept. */
const nodeIdPattern = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

const peerPattern = /^([A-Za-z][A-Za-z0-9_-]{0,63})=([^\s=,:]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/;

/** Parses `n1=127.0.0.1:9877,n2=...`; ids unique, ports valid. */
export function parsePeers(raw: string, source = "--peers"): PeerSpec[] {
  const peers: PeerSpec[] = [];
  for (const part of raw.split(",")) {
    const match = peerPattern.exec(part.trim());
    if (!match || Number(match[3]) > 65_535 || Number(match[3]) === 0) {
      throw new Error(`${source}: expected id=host:port, got '${part}'`);
    }
    if (peers.some((peer) => peer.id === match[1])) {
      throw new Error(`${source}: node id '${match[1]}' appears twice`);
    }
    peers.push({ id: match[1], peerAddress: `${match[2]}:${match[3]}` });
  }
  return peers;
}
