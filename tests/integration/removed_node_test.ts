/**
 * A node removed while it was frozen (SIGSTOP: cut off as by a partition) or down, whose process
 * then runs again: it never received the entry that removed it. The others must keep their
 * leader and term, tell it it was removed, and it must say so — every API request and `/readyz`
 * answer 503 `NodeRemoved`, its log says it once — instead of answering `NoLeader` forever.
 */
import assert from "node:assert/strict";
import { eventually } from "./process.ts";
import { withCluster } from "./_cluster_start.ts";

interface Answer {
  status: number;
  body: {
    error?: { code: string; message: string };
    leaderId?: string | null;
    term?: number;
    commitIndex?: number;
    canVote?: boolean;
    removed?: { index: number; by: string | null } | null;
  };
  retryAfter: string | null;
}

async function getJson(url: string): Promise<Answer> {
  const response = await fetch(url);
  return {
    status: response.status,
    body: await response.json(),
    retryAfter: response.headers.get("retry-after"),
  };
}

for (const how of ["frozen", "down"] as const) {
  Deno.test({
    name: `a node removed while ${how} learns it when it runs again and answers NodeRemoved`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      await withCluster("cmqd-removed-", { voters: ["n1", "n2", "n3"] }, async (cluster) => {
        const { processes, url } = cluster;
        await cluster.startVoters("together");
        const leader = await cluster.leaderVia("n1");
        const removed = ["n1", "n2", "n3"].find((id) => id !== leader)!;
        const stays = ["n1", "n2", "n3"].find((id) => id !== leader && id !== removed)!;
        const victim = processes.get(removed)!;
        if (how === "frozen") Deno.kill(victim.pid, "SIGSTOP");
        else await victim.kill();
        await cluster.removeNode(removed, leader);
        const before = (await getJson(`${url(stays)}/v1/cluster`)).body;
        if (how === "frozen") Deno.kill(victim.pid, "SIGCONT");
        else await cluster.startVoter(removed);

        const answer = await eventually("NodeRemoved", async () => {
          const response = await getJson(`${url(removed)}/v1/queues`);
          return response.body.error?.code === "NodeRemoved" ? response : undefined;
        });
        assert.equal(answer.status, 503);
        assert.equal(answer.retryAfter, null);
        assert.match(answer.body.error!.message, /this node was removed from the cluster/);
        const ready = await getJson(`${url(removed)}/readyz`);
        assert.equal(ready.status, 503);
        assert.equal(ready.body.error?.code, "NodeRemoved");
        // Its own GET /v1/cluster says so too (was: its old view, `canVote: true`, nothing more).
        const own = (await getJson(`${url(removed)}/v1/cluster`)).body;
        assert.equal(own.canVote, false);
        assert.equal(own.leaderId, null);
        assert.ok([leader, stays].includes(own.removed?.by ?? ""), JSON.stringify(own.removed));
        // The teller's commit, past everything the removed node has seen.
        const teller = (await getJson(`${url(own.removed!.by!)}/v1/cluster`)).body;
        assert.ok(own.removed!.index > own.commitIndex!, JSON.stringify(own));
        assert.ok(own.removed!.index <= teller.commitIndex!, JSON.stringify(teller));
        assert.equal(before.removed, null, "a member's answer shows no removal");

        // Three more election timeouts: the others kept their leader and term throughout.
        await new Promise((resolve) => setTimeout(resolve, 3_000));
        for (const id of [leader, stays]) {
          const info = (await getJson(`${url(id)}/v1/cluster`)).body;
          assert.equal(info.leaderId, leader, `${id}'s leader`);
          assert.equal(info.term, before.term, `${id}'s term`);
        }
        const lines = processes.get(removed)!.output().split("\n")
          .filter((line) => line.includes("this node was removed from the cluster"));
        assert.equal(lines.length, 1, lines.join("\n"));
      });
    },
  });
}
