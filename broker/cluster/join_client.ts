/**
 * The client side of `--join`, run by `main.ts`: a joining node asks a member for the cluster
 * (`GET /v1/cluster`: its initial voters, term, commit index and cluster id), then to add it
 * (`POST /v1/cluster/nodes`), signing both requests with the cluster key
 * (`cluster_request_auth.ts`).
 *
 * @module
 */
import type { ClusterInfo, JoinRequest } from "../../sdk/mod.ts";
import { printable } from "../transport/mod.ts";
import { signClusterRequest } from "./cluster_request_auth.ts";
import { wipedVoterRefusal } from "./member_changes.ts";

/**
 * Why `--join` did not get this node into the cluster: `refused` when the cluster answered no
 * (its key, a 4xx to the join: what the node was given is wrong), else the member or a leader
 * could not be reached in time.
 */
export class JoinError extends Error {
  constructor(readonly refused: boolean, message: string) {
    super(message);
  }
}

/**
 * How a joining node reaches the member it asks: `fetch` (it trusts `--tls-ca`) and `sign`,
 * which adds the headers that authenticate a request.
 */
export interface Signer {
  fetch: typeof fetch;
  sign(method: string, url: string, body?: string): Promise<Record<string, string>>;
}

/**
 * How a joining node proves itself to the member it asks: it signs with the cluster key every
 * member holds (`cluster_request_auth.ts`), so it needs no access key, and the member answers
 * before its client credentials and protected mode.
 */
export function joinSigner(
  clusterKey: Uint8Array,
  nodeId: string,
  fetch: typeof globalThis.fetch,
): Signer {
  const sign = (method: string, url: string, body?: string) => {
    const parsed = new URL(url);
    const authorization = signClusterRequest(clusterKey, nodeId, {
      method,
      path: parsed.pathname + parsed.search,
      body: new TextEncoder().encode(body ?? ""),
    });
    return Promise.resolve({ authorization });
  };
  return { fetch, sign };
}

/**
 * The time a join step's retries run on and where they tell of their failures; a test gives a
 * fake clock whose `sleep` returns at once, and keeps the lines.
 */
export interface JoinRetry {
  /** Where the join is told done. console.log. */
  log?: (line: string) => void;
  /** Where the failures are warned of (rate-limited: see `FailureLines`). console.error. */
  warn?: (line: string) => void;
  /** Waits `ms` between attempts. setTimeout. */
  sleep?: (ms: number) => Promise<void>;
  /** Milliseconds, for the deadline and the summaries. Date.now. */
  now?: () => number;
}

/**
 * The failed attempts of one retried step, told as an operator reads them: the first failure,
 * then at most one `still failing after N attempts: <last error>` per `everyMs` (a member that
 * can't be reached fails every attempt), and the give-up line is the caller's (its `JoinError`
 * names the last error too). Each line is made `printable`: the error may quote a member's answer.
 */
class FailureLines {
  #loggedAt = -Infinity;
  last = "";

  constructor(
    readonly first: (error: string) => string,
    readonly summary: (attempts: number, error: string) => string,
    readonly retry: Required<JoinRetry>,
    readonly everyMs: number,
  ) {}

  failed(attempt: number, error: string): void {
    this.last = printable(error);
    const now = this.retry.now();
    if (attempt > 1 && now - this.#loggedAt < this.everyMs) return;
    this.#loggedAt = now;
    this.retry.warn(attempt === 1 ? this.first(this.last) : this.summary(attempt, this.last));
  }
}

const defaultWarn = (line: string) => console.error(line);

function retryParts(retry: JoinRetry): Required<JoinRetry> {
  return {
    log: retry.log ?? ((line) => console.log(line)),
    warn: retry.warn ?? defaultWarn,
    sleep: retry.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
    now: retry.now ?? Date.now,
  };
}

/** Attempts `clusterOf` makes, `clusterRetryMs` apart: 50 s. */
const clusterAttemptsMax = 100;
const clusterRetryMs = 500;

/**
 * The cluster as the member a joining node joins through sees it: its `bootstrapVoters` are the
 * membership the node starts from, so that replaying the log's membership changes gives the
 * group's current membership (used on a new data dir only). Retries 100 times, 500 ms apart,
 * telling the first failure and a summary every 10 s (`JoinRetry`).
 */
export async function clusterOf(
  memberUrl: string,
  signer: Signer,
  retry: JoinRetry = {},
): Promise<ClusterInfo> {
  const parts = retryParts(retry);
  const asking = `cmqd: asking ${memberUrl} for the cluster`;
  const failures = new FailureLines(
    (error) => `${asking}: ${error}`,
    (attempts, error) => `${asking}: still failing after ${attempts} attempts: ${error}`,
    parts,
    10_000,
  );
  for (let attempt = 1; attempt <= clusterAttemptsMax; attempt++) {
    try {
      const url = `${memberUrl}/v1/cluster`;
      const response = await signer.fetch(url, { headers: await signer.sign("GET", url) });
      const info = await response.json() as ClusterInfo;
      if (response.status === 401) {
        throw new JoinError(
          true,
          `${memberUrl} refused this node's cluster key: ${JSON.stringify(info)}`,
        );
      }
      if (response.ok && info.bootstrapVoters) return info;
      failures.failed(attempt, `${response.status} ${JSON.stringify(info)}`);
    } catch (error) {
      if (error instanceof JoinError) throw error;
      failures.failed(attempt, (error as Error).message);
    }
    if (attempt < clusterAttemptsMax) await parts.sleep(clusterRetryMs);
  }
  throw new JoinError(
    false,
    `${memberUrl} did not tell its membership in ${clusterAttemptsMax} attempts ` +
      `(${clusterAttemptsMax * clusterRetryMs / 1000} s); the last: ${failures.last}`,
  );
}

/** Where the group stood when a node started to join it on an empty data directory. */
export interface JoinStart {
  /** The term and commit index of its vote floor (see `broker/cluster/join_floor.ts`). */
  term: number;
  commit: number;
  /** The voters a leader listed then; null when no leader answered (see `joinCluster`). */
  voters: string[] | null;
}

/**
 * The group's term and commit index when a node joins on an empty data directory (its vote
 * floor: see `broker/cluster/join_floor.ts`): the member's, raised to its leader's when the
 * member is a follower that names one (a follower may lag behind the removal of this id). A
 * leader that can't be asked is warned of (`warn`, console.error) and no voters are listed.
 */
export async function joinPointOf(
  member: ClusterInfo,
  signer: Signer,
  warn: (line: string) => void = defaultWarn,
): Promise<JoinStart> {
  const votersOf = (info: ClusterInfo) =>
    info.nodes.filter((node) => node.role !== "learner").map((node) => node.id);
  const point = { term: member.term, commit: member.commitIndex };
  if (member.role === "leader") return { ...point, voters: votersOf(member) };
  const leaderUrl = member.nodes.find((node) => node.id === member.leaderId)?.url ?? null;
  if (leaderUrl === null) return { ...point, voters: null };
  try {
    const url = `${leaderUrl}/v1/cluster`;
    const response = await signer.fetch(url, { headers: await signer.sign("GET", url) });
    const leader = await response.json() as ClusterInfo;
    if (response.ok) {
      return {
        term: Math.max(point.term, leader.term),
        commit: Math.max(point.commit, leader.commitIndex),
        voters: leader.role === "leader" ? votersOf(leader) : null,
      };
    }
  } catch (error) {
    warn(`cmqd: asking the leader ${leaderUrl} for its commit: ${(error as Error).message}`);
  }
  return { ...point, voters: null };
}

/**
 * Asks a member to add this node (it forwards to the leader), retrying while the cluster has no
 * leader or the node has not caught up yet. Bounded: gives up after `joinMsMax`.
 *
 * A node on an empty data directory (`emptyDataDir`) is refused under the id of a voter (a voter
 * whose disk was replaced: `member_changes.ts`). So is its own retry once an earlier attempt
 * promoted it and that answer was lost (a reset connection, a 5xx): that refusal is taken as
 * the join's success when `votersAtStart` (`JoinStart.voters`) shows this node was no voter
 * when it started, and an attempt whose outcome is unknown came before. Without that list (no
 * leader answered at the start) the refusal stands: the node may be a voter that lost its disk.
 */
export async function joinCluster(
  memberUrl: string,
  signer: Signer,
  request: JoinRequest,
  votersAtStart: string[] | null = null,
  retry: JoinRetry = {},
): Promise<void> {
  const parts = retryParts(retry);
  const failures = new FailureLines(
    (error) => `cmqd ${request.id}: join attempt 1: ${error}`,
    (attempts, error) =>
      `cmqd ${request.id}: join still failing after ${attempts} attempts: ${error}`,
    parts,
    30_000,
  );
  const joinMsMax = 10 * 60_000;
  const deadline = parts.now() + joinMsMax;
  const url = `${memberUrl}/v1/cluster/nodes`;
  let body = JSON.stringify(request);
  let outcomeUnknown = false;
  const promotedByThisStart = request.emptyDataDir === true && votersAtStart !== null &&
    !votersAtStart.includes(request.id);
  for (let attempt = 1;; attempt++) {
    try {
      // Signed anew for each attempt: a signature's nonce is good for one request on each member
      // (one that forwarded an attempt remembers its nonce too, and may lead by the retry).
      const response = await signer.fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", ...await signer.sign("POST", url, body) },
        body,
      });
      const text = await response.text();
      if (response.ok) {
        parts.log(`cmqd ${request.id}: joined the cluster through ${memberUrl}`);
        return;
      }
      if (response.status === 400 && text.includes("unknown field 'emptyDataDir'")) {
        // A member of an older release: it has no check that needs the field.
        body = JSON.stringify({ ...request, emptyDataDir: undefined });
        continue;
      }
      if (
        response.status === 400 && outcomeUnknown && promotedByThisStart &&
        text.includes(wipedVoterRefusal)
      ) {
        parts.log(
          `cmqd ${request.id}: joined the cluster through ${memberUrl} (an earlier attempt, ` +
            "whose answer was lost, made this node a voter)",
        );
        return;
      }
      if (response.status < 500) {
        throw new JoinError(true, `join refused (${response.status}): ${text}`);
      }
      outcomeUnknown = true;
      failures.failed(attempt, `${response.status} ${text}`);
    } catch (error) {
      if (error instanceof JoinError) throw error;
      outcomeUnknown = true;
      failures.failed(attempt, (error as Error).message);
    }
    if (parts.now() > deadline) {
      throw new JoinError(
        false,
        `could not join through ${memberUrl} in ${joinMsMax / 60_000} min (${attempt} attempts); ` +
          `the last: ${failures.last}`,
      );
    }
    await parts.sleep(Math.min(5000, 200 * attempt));
  }
}
