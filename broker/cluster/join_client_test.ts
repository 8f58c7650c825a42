/**
 * The client side of `--join` against scripted answers: a retry whose earlier attempt promoted
 * the node (its answer lost) is refused as "a voter with its data"; that is the join's success
 * only when the node was no voter when it started.
 */
import assert from "node:assert/strict";
import type { ClusterInfo } from "../../sdk/mod.ts";
import { ClusterRequestDoor } from "./cluster_request_auth.ts";
import {
  clusterOf,
  joinCluster,
  JoinError,
  joinPointOf,
  joinSigner,
  type Signer,
} from "./join_client.ts";
import { wipedVoterRefusal } from "./member_changes.ts";

type Answer = () => Response;

/** A signer whose fetch gives `answers` in turn (the last one again), recording each request. */
function scripted(answers: Answer[]): { signer: Signer; requests: string[] } {
  const requests: string[] = [];
  const fetch = (input: string | URL | Request, init?: RequestInit) => {
    requests.push(`${init?.method ?? "GET"} ${String(input)}`);
    const answer = answers[Math.min(requests.length - 1, answers.length - 1)];
    return Promise.resolve().then(answer);
  };
  return { signer: { fetch, sign: () => Promise.resolve({}) }, requests };
}

const lost: Answer = () => {
  throw new TypeError("error sending request: connection reset by peer");
};
const wipedRefusal: Answer = () =>
  Response.json({
    error: {
      code: "InvalidParameter",
      message: `id: n4 ${wipedVoterRefusal}; a node with an empty data directory can't take ` +
        "its place: remove it first (DELETE /v1/cluster/nodes/n4), then join",
      requestId: "r1",
      field: "id",
    },
  }, { status: 400 });

const n4 = {
  id: "n4",
  peerAddress: "127.0.0.1:7004",
  clientUrl: "http://127.0.0.1:8004",
  emptyDataDir: true,
};
const member = "http://127.0.0.1:8001";

Deno.test("a retried join refused as a voter whose earlier attempt's answer was lost joined, if it was no voter at its start", async () => {
  const { signer, requests } = scripted([lost, wipedRefusal]);
  // Was: refused (400), and the node shut down although it was a voter of the cluster.
  await joinCluster(member, signer, n4, ["n1", "n2", "n3"]);
  assert.deepEqual(requests, [
    `POST ${member}/v1/cluster/nodes`,
    `POST ${member}/v1/cluster/nodes`,
  ]);
});

Deno.test("the refusal as a voter with its data stands for a node that was a voter at its start, or when that is unknown, or with no attempt before", async () => {
  const refused = (error: unknown) =>
    error instanceof JoinError && error.refused && error.message.includes(wipedVoterRefusal);
  // A voter whose disk was replaced: it was listed before it started.
  let { signer } = scripted([lost, wipedRefusal]);
  await assert.rejects(joinCluster(member, signer, n4, ["n1", "n2", "n3", "n4"]), refused);
  // No leader listed the voters at the start.
  ({ signer } = scripted([lost, wipedRefusal]));
  await assert.rejects(joinCluster(member, signer, n4, null), refused);
  // The first attempt refused: no attempt of this start can have promoted it.
  ({ signer } = scripted([wipedRefusal]));
  await assert.rejects(joinCluster(member, signer, n4, ["n1", "n2", "n3"]), refused);
});

function info(nodeId: string, role: ClusterInfo["role"], leaderId: string): ClusterInfo {
  const node = (id: string, role: string) => ({
    id,
    url: `http://${id}`,
    role,
    matchIndex: null,
    lag: null,
  });
  return {
    nodeId,
    role,
    term: 3,
    leaderId,
    commitIndex: 10,
    appliedIndex: 10,
    nodes: [node("n1", "leader"), node("n2", "follower"), node("n5", "learner")],
  };
}

Deno.test("joinPointOf lists the voters a leader knew of, or none when no leader answered", async () => {
  const leader = info("n1", "leader", "n1");
  const silent = scripted([() => assert.fail("a leader's own view needs no request")]);
  assert.deepEqual(await joinPointOf(leader, silent.signer), {
    term: 3,
    commit: 10,
    voters: ["n1", "n2"],
  });
  const asked = scripted([() => Response.json({ ...leader, term: 4, commitIndex: 12 })]);
  assert.deepEqual(await joinPointOf(info("n2", "follower", "n1"), asked.signer), {
    term: 4,
    commit: 12,
    voters: ["n1", "n2"],
  });
  assert.deepEqual(asked.requests, ["GET http://n1/v1/cluster"]);
  const down = scripted([lost]);
  const warned: string[] = [];
  const warn = (line: string) => void warned.push(line);
  assert.deepEqual(await joinPointOf(info("n2", "follower", "n1"), down.signer, warn), {
    term: 3,
    commit: 10,
    voters: null,
  });
  assert.equal(warned.length, 1);
  assert.match(warned[0], /^cmqd: asking the leader http:\/\/n1 for its commit: /);
});

Deno.test("a join retried after a failover is signed anew: the member that forwarded the first attempt and now leads takes it", async () => {
  // The member n2 checks the first attempt (remembering its nonce) and forwards it; the leader
  // is lost meanwhile (503). n2 then leads and answers the retry itself, with the same door:
  // a retry carrying the first attempt's nonce would be refused there as a replay (401), and
  // the joining node would give up.
  const clusterKey = new TextEncoder().encode("k".repeat(64));
  const joined = { nodeId: "n2", bootstrapVoters: ["n1", "n2", "n3"] } as unknown as ClusterInfo;
  const door = new ClusterRequestDoor(clusterKey, {
    cluster: () => joined,
    join: () => Promise.resolve(joined),
  });
  const nonces: string[] = [];
  let leads = false;
  const fetch = async (input: string | URL | Request, init?: RequestInit) => {
    const request = new Request(input, init);
    nonces.push(/Nonce=([^,]+)/.exec(request.headers.get("authorization") ?? "")?.[1] ?? "");
    if (leads) return await door.handle(request, () => Promise.resolve(new Response(null)));
    const admission = await door.admitForwarding(request);
    assert.ok("body" in admission, "the first attempt is admitted for forwarding");
    leads = true;
    return Response.json({ error: { code: "NoLeader", message: "leader changed" } }, {
      status: 503,
    });
  };
  await joinCluster(member, joinSigner(clusterKey, "n4", fetch), n4);
  assert.equal(nonces.length, 2);
  assert.notEqual(nonces[0], nonces[1]);
});

/** Retry time on a fake clock: a wait advances it at once, the lines are kept. */
function fakeRetry() {
  let now = 0;
  const lines: string[] = [];
  const told: string[] = [];
  return {
    lines,
    told,
    warn: (line: string) => void lines.push(line),
    log: (line: string) => void told.push(line),
    now: () => now,
    sleep: (ms: number) => {
      now += ms;
      return Promise.resolve();
    },
  };
}

Deno.test("asking an unreachable member for the cluster logs the first failure, a summary every 10 s, and gives up naming the last error", async () => {
  const retry = fakeRetry();
  const { signer, requests } = scripted([() => {
    throw new TypeError("error sending request: Connection refused (os error 111)");
  }]);
  await assert.rejects(
    clusterOf(member, signer, retry),
    (error: JoinError) => {
      assert.ok(!error.refused);
      assert.equal(
        error.message,
        `${member} did not tell its membership in 100 attempts (50 s); the last: error sending ` +
          "request: Connection refused (os error 111)",
      );
      return true;
    },
  );
  assert.equal(requests.length, 100);
  // Attempt n fails at (n - 1) × 500 ms: a summary at attempts 21, 41, 61 and 81.
  assert.deepEqual(retry.lines, [
    `cmqd: asking ${member} for the cluster: error sending request: Connection refused (os error 111)`,
    ...[21, 41, 61, 81].map((n) =>
      `cmqd: asking ${member} for the cluster: still failing after ${n} attempts: error ` +
      "sending request: Connection refused (os error 111)"
    ),
  ]);
  assert.deepEqual(retry.told, [], "failures are warnings (stderr), not told on stdout");
});

Deno.test("a join its member keeps refusing with a 5xx logs the first failure, a summary every 30 s, and gives up after 10 minutes naming the last answer", async () => {
  const retry = fakeRetry();
  const { signer, requests } = scripted([
    () =>
      Response.json({ error: { code: "NoLeader", message: "no leader\nforged line" } }, {
        status: 503,
      }),
  ]);
  await assert.rejects(
    joinCluster(member, signer, n4, null, retry),
    (error: JoinError) => {
      assert.ok(!error.refused);
      assert.match(
        error.message,
        /^could not join through .* in 10 min \(\d+ attempts\); the last: 503 /,
      );
      return true;
    },
  );
  assert.ok(requests.length > 100, `${requests.length} attempts`);
  assert.match(retry.lines[0], /^cmqd n4: join attempt 1: 503 \{"error":\{"code":"NoLeader"/);
  for (const line of retry.lines.slice(1)) {
    assert.match(line, /^cmqd n4: join still failing after \d+ attempts: 503 /);
  }
  // 10 minutes of retries: the first line and one summary per 30 s at most, each one line.
  assert.ok(retry.lines.length <= 21, `${retry.lines.length} lines`);
  assert.ok(retry.lines.length >= 10, `${retry.lines.length} lines`);
  assert.ok(retry.lines.every((line) => !line.includes("\n")));
  assert.deepEqual(retry.told, [], "failures are warnings (stderr), not told on stdout");
});
