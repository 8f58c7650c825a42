/**
 * The cluster id: which cluster a node belongs to, fixed when the cluster starts and stored in
 * the data directory (`cluster_id`). Peers must announce the same id in their hello, or the
 * handshake refuses them (`transport/peer_handshake.ts`): a node whose `--peers` names another
 * cluster's address (both clusters named n1, n2, n3, both holding one key) talks to nobody there,
 * and the other cluster logs why, instead of the two mixing votes and logs.
 *
 * Where the id comes from (`chooseClusterId`), on a data directory that has none yet:
 * - `--peers` (a new cluster): every initial voter computes the same id on its own, a hash of
 *   the sorted `id=host:port` list (`derivedClusterId`), as etcd does. A voter given another
 *   list computes another id: it is refused by the others, who log both ids.
 * - `--join`: the id the member answers in `GET /v1/cluster` (an older release answers none: "").
 * - a lone node (no `--peers`, no `--join`): a random id; nodes that join it later learn it.
 * - `--cluster-id` overrides the first and the last (all initial voters must get the same one);
 *   `--cluster-id none` is the empty id of a cluster started before cluster ids.
 *
 * Once stored, the id is kept: `--peers` only seeds an empty data directory (its addresses may
 * change, members join and leave), so a `--peers` that no longer gives the stored id only adds a
 * warning. A `--join` or `--cluster-id` naming another id than the stored one is refused (exit 2):
 * the data belongs to the stored cluster.
 *
 * Unless the data directory never held anything of that cluster (`dataDirHeldLog` false: no log
 * segment, log start or damage record, no snapshot past index 0, and term 0 in the hard state).
 * Then flags that name another id choose again, as on an empty directory, and the new record
 * replaces the old: a `--join` or `--cluster-id` naming another id, or a `--peers` list other than
 * the one the stored id was derived from (an id given by `--cluster-id` is kept when only the
 * list changed). So a node first started with a typo in `--peers`, refused by everyone since,
 * takes the right id once the list is fixed, instead of keeping the wrong one until its directory
 * is emptied. Why this is no worse than before for a member of a real cluster:
 * - Term 0 and no entry means the node never exchanged a Raft message that counted with anyone:
 *   pre-vote leaves the term at 0 until a majority answers, and a leader's first message raises
 *   it. Every peer it ever talked to had its id (the handshake checks it), so a node that heard a
 *   leader or took part in an election of its stored cluster has term ≥ 1 and keeps the id.
 * - A fully emptied directory has no `cluster_id`: it chooses from the flags today already. A
 *   member whose log and snapshots are gone but whose `cluster_id` survived, restarted with a
 *   `--peers` edited since its cluster started, now chooses as that emptied directory does
 *   (refused by the others, which log both ids; the remedy is the same, and `--cluster-id <their
 *   id>` now works without emptying the directory again) where before it kept the stored id.
 *   The same holds for a node that never heard from a cluster which all its members started with
 *   the same wrong list (the others keep it, holding a log). Either way it is a refused node, not
 *   a mixed one: an id that differs from the peers' only ever keeps a node out, and one holding
 *   no entry and no vote has nothing of the old cluster to bring anywhere.
 * Nothing else changes: with a log the stored id is kept as before, and a lone node's random id
 * is never drawn again (no flag names another one). `--force-new-cluster` takes a new random id, recorded
 * once the forced start has succeeded (`renewal`): the old members, whose old data must never
 * come back, are refused at the handshake from then on.
 *
 * A data directory from before cluster ids (a log or snapshot but no `cluster_id`) keeps the empty
 * id and writes none: during a rolling upgrade every node of such a cluster has "" and they keep
 * talking, to each other and to older releases (which announce no id, read as ""). The empty id is
 * not a wildcard: a node with an id refuses one with "", and the reverse.
 *
 * The file is written like the other small records (`join_floor`): under a temporary name with a
 * CRC, fsynced, renamed, the directory fsynced, before the log is opened; a damaged one stops the
 * start (exit 2) rather than being replaced by a guess.
 *
 * @module
 */
import { createHash } from "node:crypto";
import {
  type FileSystem,
  hardStateFileName,
  loadHardState,
  readSnapshotFile,
  writeSnapshotFile,
} from "../../storage/mod.ts";
import { snapshotFileName } from "../replication/mod.ts";
import type { PeerSpec } from "./config.ts";

/** File name of the record inside the data directory. */
export const clusterIdFileName = "cluster_id";

/** What `cluster_id` holds. */
export interface ClusterIdRecord {
  /** "" = no id (a cluster started before cluster ids). */
  clusterId: string;
  /** The `--peers` list the cluster started from (sorted by id), when it started from one. */
  bootstrap?: PeerSpec[];
}

/** A start that can't go on with this data directory and these flags (exit 2, nothing written). */
export class ClusterIdError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ClusterIdError";
  }
}

/** Accepted by `--cluster-id`: `none`, or 1–64 letters, digits, `.`, `_`, `-`. */
export const clusterIdPattern = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * The id every initial voter of a `--peers` list computes alike: the first 16 hex digits of
 * SHA-256 over the entries sorted by id, one `id=host:port` per line.
 *
 * @example
 * ```ts
 * derivedClusterId([{ id: "n2", peerAddress: "10.0.0.2:9877" }, { id: "n1", peerAddress: "10.0.0.1:9877" }]);
 * ```
 */
export function derivedClusterId(peers: readonly PeerSpec[]): string {
  const lines = sortedPeers(peers).map((peer) => `${peer.id}=${peer.peerAddress}\n`).join("");
  return createHash("sha256").update(`cmqd-cluster-id/v1\n${lines}`).digest("hex").slice(0, 16);
}

/** A fresh random id (a lone node's, a forced survivor's). */
export function randomClusterId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** The stored record, or null without one; throws `ClusterIdError` for a damaged one. */
export function readClusterId(fs: FileSystem, dataDir: string): ClusterIdRecord | null {
  const damaged = () =>
    new ClusterIdError(
      `${dataDir}/${clusterIdFileName} is damaged: the node can't tell which cluster its data ` +
        "belongs to; restore the file (every member of the cluster has the same) or empty the " +
        "data directory",
    );
  const bytes = readSnapshotFile(fs, dataDir, clusterIdFileName);
  if (bytes === null) {
    if (fs.exists(`${dataDir.replace(/\/+$/, "")}/${clusterIdFileName}`)) throw damaged();
    return null;
  }
  let record: ClusterIdRecord;
  try {
    record = JSON.parse(new TextDecoder().decode(bytes)) as ClusterIdRecord;
  } catch {
    throw damaged();
  }
  if (typeof record?.clusterId !== "string") throw damaged();
  return record;
}

/** Stores `record` durably (file and directory fsynced) before anything else is written. */
export async function recordClusterId(
  fs: FileSystem,
  dataDir: string,
  record: ClusterIdRecord,
): Promise<void> {
  fs.mkdirp(dataDir);
  await writeSnapshotFile(
    fs,
    dataDir,
    clusterIdFileName,
    new TextEncoder().encode(JSON.stringify(record)),
  );
}

/**
 * Whether a node ran on `dataDir` before: anything in `log/` or `snapshots/`. Without a stored id
 * such a directory is from before cluster ids (the id is recorded before the log is opened).
 */
export function dataDirRanBefore(fs: FileSystem, dataDir: string): boolean {
  const base = dataDir.replace(/\/+$/, "");
  return ["log", "snapshots"].some((name) =>
    fs.exists(`${base}/${name}`) && fs.readDir(`${base}/${name}`).length > 0
  );
}

/**
 * Whether `dataDir` ever held anything of a cluster: a file in `log/` other than the hard state
 * (a segment, the log start of a snapshot install, a damage record, a leftover), a file in
 * `snapshots/` other than the snapshot of index 0, or a hard state of term ≥ 1 (or one that can't
 * be read). A node whose `--peers` reached no one leaves only term 0 and the empty snapshot.
 */
export function dataDirHeldLog(fs: FileSystem, dataDir: string): boolean {
  const base = dataDir.replace(/\/+$/, "");
  const others = (dir: string, except: string) =>
    fs.exists(dir) && fs.readDir(dir).some((name) => name !== except);
  if (others(`${base}/log`, hardStateFileName)) return true;
  // A start writes the snapshot of index 0 (the empty state) without holding anything.
  if (others(`${base}/snapshots`, snapshotFileName(0))) return true;
  try {
    return loadHardState(fs, `${base}/log`).term > 0;
  } catch {
    return true; // damaged: the log's recovery says so; the id is kept meanwhile
  }
}

/** What a start needs to decide the id. */
export interface ClusterIdInput {
  dataDir: string;
  stored: ClusterIdRecord | null;
  /** `dataDirRanBefore`. */
  ranBefore: boolean;
  /** `dataDirHeldLog` (never true when `ranBefore` is false). */
  heldLog: boolean;
  /** `--peers`. */
  peers: readonly PeerSpec[];
  /** `--join`: the member's URL and the id it answered (undefined from an older release). */
  joined: { url: string; clusterId: string | undefined } | null;
  forceNewCluster: boolean;
  /** `--cluster-id` ("none" = the empty id), or null. */
  flag: string | null;
}

/** The id to run with, and what to store. */
export interface ClusterIdChoice {
  clusterId: string;
  /** To store before the log is opened (a data directory that has none yet). */
  record: ClusterIdRecord | null;
  /** `--force-new-cluster`: to store once the forced start has succeeded. */
  renewal: ClusterIdRecord | null;
  /** Lines for the log (a `--peers` that no longer gives the stored id, a renewal). */
  notes: string[];
}

/**
 * Decides this start's cluster id (see the module doc); throws `ClusterIdError` when the data
 * directory belongs to another cluster than `--join` or `--cluster-id` names. Pure.
 */
export function chooseClusterId(input: ClusterIdInput): ClusterIdChoice {
  const { stored, peers, joined } = input;
  const flag = input.flag === null ? null : input.flag === "none" ? "" : input.flag;
  const show = (id: string) => id === "" ? "none (started before cluster ids)" : id;
  const joinedId = joined === null ? null : joined.clusterId ?? "";
  if (input.forceNewCluster) {
    const renewed = flag ?? randomClusterId();
    const old = stored?.clusterId ?? "";
    return {
      clusterId: renewed,
      record: null,
      renewal: { clusterId: renewed },
      notes: [
        `--force-new-cluster: the cluster id becomes ${show(renewed)} (it was ${show(old)}): ` +
        "the removed members are refused at the peer handshake",
      ],
    };
  }
  if (stored !== null && !input.heldLog) {
    const derived = stored.bootstrap !== undefined &&
      stored.clusterId === derivedClusterId(stored.bootstrap);
    const otherList = flag === null && joinedId === null && peers.length > 0 && derived &&
      peersText(peers) !== peersText(stored.bootstrap!);
    if (
      (flag !== null && flag !== stored.clusterId) ||
      (joinedId !== null && joinedId !== stored.clusterId) || otherList
    ) {
      const choice = chooseClusterId({ ...input, stored: null, ranBefore: false });
      choice.notes.push(
        `${input.dataDir} never held a log: its cluster id becomes ${show(choice.clusterId)} ` +
          `(it was ${show(stored.clusterId)}, chosen by flags that differ now; nothing of that ` +
          "cluster was written here)",
      );
      return choice;
    }
  }
  const current = stored?.clusterId ?? (input.ranBefore ? "" : null);
  if (current !== null) {
    const where = stored === null
      ? `${input.dataDir} is from before cluster ids (no ${clusterIdFileName} file) and has none`
      : `${input.dataDir} belongs to cluster ${show(current)} (its ${clusterIdFileName} file)`;
    if (flag !== null && flag !== current) {
      throw new ClusterIdError(
        `${where}, not --cluster-id ${input.flag}: a node can't take its data to another ` +
          "cluster; give the stored id, or start it on an empty data directory",
      );
    }
    if (joinedId !== null && joinedId !== current) {
      throw new ClusterIdError(
        `${where}, but ${joined!.url} is a member of cluster ${show(joinedId)}: this data is ` +
          "another cluster's; to join this one, start on an empty data directory",
      );
    }
    const notes: string[] = [];
    const bootstrap = stored?.bootstrap;
    if (peers.length > 0 && bootstrap !== undefined && peersText(peers) !== peersText(bootstrap)) {
      notes.push(
        `WARNING: --peers ${peersText(peers)} differs from the list this data directory's ` +
          `cluster started from (${peersText(bootstrap)}): it keeps cluster id ${show(current)} ` +
          "(--peers only seeds an empty data directory; the membership and the addresses " +
          "come from the log)",
      );
    }
    return { clusterId: current, record: null, renewal: null, notes };
  }
  if (joinedId !== null) {
    if (flag !== null && flag !== joinedId) {
      throw new ClusterIdError(
        `${joined!.url} is a member of cluster ${show(joinedId)}, not --cluster-id ` +
          `${input.flag}: this node would be refused by every member`,
      );
    }
    return { clusterId: joinedId, record: { clusterId: joinedId }, renewal: null, notes: [] };
  }
  if (peers.length > 0) {
    const clusterId = flag ?? derivedClusterId(peers);
    const record = { clusterId, bootstrap: sortedPeers(peers) };
    return { clusterId, record, renewal: null, notes: [] };
  }
  const clusterId = flag ?? randomClusterId();
  return { clusterId, record: { clusterId }, renewal: null, notes: [] };
}

function sortedPeers(peers: readonly PeerSpec[]): PeerSpec[] {
  return [...peers]
    .map((peer) => ({ id: peer.id, peerAddress: peer.peerAddress }))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function peersText(peers: readonly PeerSpec[]): string {
  return sortedPeers(peers).map((peer) => `${peer.id}=${peer.peerAddress}`).join(",");
}

/**
 * `main.ts`'s step, after the data directory is claimed and before the transport starts or the
 * log opens: reads the stored id, decides (`chooseClusterId`) and stores a new record durably.
 * Throws `ClusterIdError` (nothing written) when the flags name another cluster.
 */
export async function settleClusterId(
  fs: FileSystem,
  input: Omit<ClusterIdInput, "stored" | "ranBefore" | "heldLog">,
): Promise<ClusterIdChoice> {
  const choice = chooseClusterId({
    ...input,
    stored: readClusterId(fs, input.dataDir),
    ranBefore: dataDirRanBefore(fs, input.dataDir),
    heldLog: dataDirHeldLog(fs, input.dataDir),
  });
  if (choice.record !== null) await recordClusterId(fs, input.dataDir, choice.record);
  return choice;
}
