/**
 * A removed node added back under its own id, on real processes through `main.ts`: removed,
 * stopped, its data directory deleted, started with `--join` on an empty one. It records the
 * group's term and commit (`join_floor`) before its log opens, says `canVote: false` until its log
 * holds that commit, ends a voter of a three-voter group again, serves every message the group
 * acknowledged exactly once, and takes writes. A restart with its data and the same `--join`
 * command (README, "Replacing a node's disk": "its restart (now with a log) joins") keeps the
 * record and comes back voting.
 */
import assert from "node:assert/strict";
import { CmqdClient } from "../../sdk/mod.ts";
import { readSnapshotFile, RealFileSystem } from "../../storage/mod.ts";
import {
  type BrokerProcess,
  clusterPorts,
  eventually,
  startBroker,
  startBrokers,
} from "./process.ts";

interface ClusterView {
  nodeId: string;
  role: string;
  term: number;
  leaderId: string | null;
  commitIndex: number;
  appliedIndex: number;
  canVote?: boolean;
  nodes: { id: string; role: string; matchIndex: number | null }[];
}

/** `GET /v1/cluster`, or undefined when it does not answer 200 (not listening yet, 503...). */
async function clusterOf(
  url: string,
  refused?: string[],
): Promise<ClusterView | undefined> {
  const response = await fetch(`${url}/v1/cluster`, { signal: AbortSignal.timeout(5_000) });
  if (response.status !== 200) {
    const text = await response.text();
    refused?.push(`${response.status} ${text.slice(0, 200)}`);
    return undefined;
  }
  return await response.json() as ClusterView;
}

function joinFloorOf(dataDir: string): { term: number; commit: number } | null {
  const bytes = readSnapshotFile(new RealFileSystem(), dataDir, "join_floor");
  return bytes === null ? null : JSON.parse(new TextDecoder().decode(bytes));
}

const voters = (view: ClusterView) =>
  view.nodes.filter((node) => node.role !== "learner").map((node) => node.id).sort();

Deno.test({
  name: "a removed node joins again under its id on an empty data directory behind a vote floor",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "cmqd-rejoin-" });
    const { specs, peers } = clusterPorts(["n1", "n2", "n3"]);
    const spec = (id: string) => specs.find((entry) => entry.id === id)!;
    const url = (id: string) => `http://127.0.0.1:${spec(id).port}`;
    const clientOf = (id: string) => new CmqdClient({ baseUrl: url(id), timeoutMs: 10_000 });
    // Every process started, by PID, stopped in `finally` (a restart adds another entry).
    const started: BrokerProcess[] = [];
    const optionsOf = (id: string, extra: string[]) => ({
      dataDir: `${root}/${id}`,
      port: spec(id).port,
      args: ["--node-id", id, "--peer-port", String(spec(id).peerPort), ...extra],
      readyMs: 180_000,
    });
    const start = async (id: string, extra: string[]) => {
      const process = await startBroker(optionsOf(id, extra));
      started.push(process);
      return process;
    };
    let watching = true;
    try {
      // All three settle before this returns (a failed start kills the others).
      const first = await startBrokers(
        ["n1", "n2", "n3"].map((id) => optionsOf(id, ["--peers", peers])),
      );
      started.push(...first);
      const n3First = first[2];
      const leader = await eventually(
        "a leader",
        async () => (await clusterOf(url("n1")))?.leaderId ?? undefined,
      );
      const leaderClient = clientOf(leader);
      await leaderClient.createQueue("q", { visibilityTimeoutSeconds: 3600 });
      // Enough bytes that catching up takes a moment (canVote: false is then observable).
      const padding = "x".repeat(2_000);
      const sent: string[] = [];
      for (let batch = 0; batch < 20; batch++) {
        const bodies = Array.from({ length: 100 }, (_, i) => `m-${batch * 100 + i}-${padding}`);
        const answer = await leaderClient.sendMessages("q", bodies.map((body) => ({ body })));
        assert.equal(answer.messages.length, bodies.length);
        sent.push(...bodies);
      }

      // Remove n3 on any node, retried until 2xx (a leader hands over first and answers 503).
      await eventually("n3 removed", async () => {
        const response = await fetch(`${url("n1")}/v1/cluster/nodes/n3`, {
          method: "DELETE",
          signal: AbortSignal.timeout(5_000),
        });
        await response.body?.cancel();
        return response.ok ? true : undefined;
      }, 120_000);
      await eventually("two voters without n3", async () => {
        const view = await clusterOf(url("n1"));
        return view !== undefined && view.leaderId !== null && view.leaderId !== "n3" &&
            voters(view).join() === "n1,n2" && view.nodes.length === 2
          ? true
          : undefined;
      }, 120_000);
      assert.equal(await n3First.stop(), 0, n3First.output());
      await Deno.remove(`${root}/n3`, { recursive: true });

      // Back under its id, on an empty data directory, joining through n1.
      const join = ["--join", url("n1")];
      const seen: ClusterView[] = [];
      const refused: string[] = [];
      const watch = (async () => {
        while (watching) {
          try {
            const view = await clusterOf(url("n3"), refused);
            if (view !== undefined) seen.push(view);
          } catch { /* not listening yet */ }
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })();
      let n3Second: BrokerProcess;
      try {
        n3Second = await start("n3", join);
      } finally {
        watching = false;
        await watch;
      }
      const floor = joinFloorOf(`${root}/n3`);
      assert.notEqual(floor, null, `no join_floor in n3's data directory:\n${n3Second.output()}`);
      assert.ok(floor!.commit > 0 && floor!.term > 0, JSON.stringify(floor));
      const final = await eventually("n3 a voter that may vote", async () => {
        const view = await clusterOf(url("n3"));
        return view !== undefined && view.canVote === true && view.leaderId !== null &&
            voters(view).join() === "n1,n2,n3" && view.nodes.length === 3 &&
            view.appliedIndex >= floor!.commit
          ? view
          : undefined;
      }, 180_000);
      assert.ok(final.commitIndex >= floor!.commit);
      // Before it caught up it said it may not vote (when a poll caught that moment; a join
      // faster than the 20 ms polls is covered by the end state above).
      const lastIndexOf = (view: ClusterView) =>
        view.nodes.find((node) => node.id === view.nodeId)?.matchIndex ?? null;
      // Its own log's end shows only while it lists itself (not between replaying its old
      // removal and its addition).
      const early = seen.filter((view) => (lastIndexOf(view) ?? Infinity) < floor!.commit);
      for (const view of early) {
        assert.equal(view.canVote, false, `n3 may vote below its floor: ${JSON.stringify(view)}`);
      }
      console.log(
        `n3 polled ${seen.length} times during its join, ${early.length} below its floor ` +
          `(${floor!.commit}), canVote false ${seen.filter((v) => v.canVote === false).length}; ` +
          `not 200: ${refused.length}${refused.length > 0 ? ` (first: ${refused[0]})` : ""}`,
      );
      for (const id of ["n1", "n2"]) {
        const view = await eventually(`${id} sees three voters`, async () => {
          const view = await clusterOf(url(id));
          return view !== undefined && voters(view).join() === "n1,n2,n3" ? view : undefined;
        });
        assert.equal(view.nodes.length, 3);
      }

      // Every acknowledged message through n3, exactly once.
      const n3 = clientOf("n3");
      const received: string[] = [];
      for (;;) {
        const answer = await n3.receiveMessages("q", { maxMessages: 256, waitSeconds: 1 });
        if (answer.messages.length === 0) break;
        received.push(...answer.messages.map((message) => message.body));
      }
      assert.equal(received.length, sent.length, "received count");
      assert.equal(new Set(received).size, received.length, "a message received twice");
      assert.deepEqual([...received].sort(), [...sent].sort());

      // A write through n3 commits.
      const written = await n3.sendMessages("q", [{ body: "after-rejoin" }]);
      assert.equal(written.messages.length, 1);
      const again = await n3.receiveMessages("q", { maxMessages: 10, waitSeconds: 5 });
      assert.deepEqual(again.messages.map((message) => message.body), ["after-rejoin"]);

      // A restart with its data and the same --join command: the floor is met, it votes.
      assert.equal(await n3Second.stop(), 0, n3Second.output());
      const n3Third = await start("n3", join);
      assert.doesNotMatch(n3Third.output(), /InvalidParameter|can't take its place/);
      assert.deepEqual(joinFloorOf(`${root}/n3`), floor, "the restart rewrote join_floor");
      await eventually("n3 voting after its restart", async () => {
        const view = await clusterOf(url("n3"));
        return view !== undefined && view.canVote === true && view.leaderId !== null &&
            voters(view).join() === "n1,n2,n3" && view.appliedIndex >= floor!.commit
          ? view
          : undefined;
      }, 120_000);
      const afterRestart = await n3.sendMessages("q", [{ body: "after-restart" }]);
      assert.equal(afterRestart.messages.length, 1);
      const last = await n3.receiveMessages("q", { maxMessages: 10, waitSeconds: 5 });
      assert.deepEqual(last.messages.map((message) => message.body), ["after-restart"]);
    } finally {
      watching = false;
      for (const process of started) await process.kill();
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  },
});
