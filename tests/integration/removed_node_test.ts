/**
 * A node removed while it was frozen (SIGSTOP: cut off as by a partition) or down, whose process
 * then runs again: it never received the entry that removed it. The others must keep their
 * leader and term, tell it it was removed, and it must say so — every API request and `/readyz`
 * answer 503 `NodeRemoved`, its log says it once — instead of answering `NoLeader` forever.
 */
import assert from "node:assert/strict";
import { type BrokerProcess, clusterPorts, eventually, startBroker } from "./process.ts";

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
      const root = await Deno.makeTempDir({ prefix: "cmqd-removed-" });
      const { specs, peers } = clusterPorts(["n1", "n2", "n3"]);
      const processes = new Map<string, BrokerProcess>();
      const start = async (spec: typeof specs[number]) => {
        processes.set(
          spec.id,
          await startBroker({
            dataDir: `${root}/${spec.id}`,
            port: spec.port,
            args: ["--node-id", spec.id, "--peer-port", String(spec.peerPort), "--peers", peers],
          }),
        );
      };
      const url = (id: string) => `http://127.0.0.1:${specs.find((s) => s.id === id)!.port}`;
      try {
        await Promise.all(specs.map(start));
        const leader = await eventually("a leader", async () => {
          const info = await getJson(`${url("n1")}/v1/cluster`);
          return info.body.leaderId ?? undefined;
        });
        const removed = ["n1", "n2", "n3"].find((id) => id !== leader)!;
        const stays = ["n1", "n2", "n3"].find((id) => id !== leader && id !== removed)!;
        const victim = processes.get(removed)!;
        if (how === "frozen") Deno.kill(victim.pid, "SIGSTOP");
        else await victim.kill();
        await eventually("the removal", async () => {
          const response = await fetch(`${url(leader)}/v1/cluster/nodes/${removed}`, {
            method: "DELETE",
          });
          await response.body?.cancel();
          return response.status === 204 ? true : undefined;
        });
        const before = (await getJson(`${url(stays)}/v1/cluster`)).body;
        if (how === "frozen") Deno.kill(victim.pid, "SIGCONT");
        else await start(specs.find((s) => s.id === removed)!);

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
      } finally {
        for (const process of processes.values()) {
          try {
            Deno.kill(process.pid, "SIGCONT");
          } catch { /* it has exited */ }
          await process.kill();
        }
        await Deno.remove(root, { recursive: true });
      }
    },
  });
}
