/**
 * Disaster recovery on real processes (README, "Losing a majority" and "Backups"):
 *
 * - two of three nodes die for good (kill -9, data dirs deleted); the survivor answers 503
 *   NoLeader; restarted with `--force-new-cluster` it is the sole voter and serves every
 *   acknowledged message; a fresh node joins it with `--join` and votes; a restart without the
 *   flag keeps the new membership;
 * - a backup is a copy of a follower's data dir taken while it is stopped (SIGTERM; the cluster
 *   keeps its majority); restored with `--force-new-cluster` and the copy's `--node-id`, it holds
 *   exactly the messages acknowledged before the stop.
 */
import assert from "node:assert/strict";
import { CmqdClient } from "../../sdk/mod.ts";
import { eventually, freePort, startBroker, testClusterKeyText } from "./process.ts";
import { withCluster } from "./_cluster_start.ts";

const client = (url: string) => new CmqdClient({ baseUrl: url, timeoutMs: 10_000 });

/** Sends `count` messages in batches of 5 (each batch acknowledged); their ids. */
async function sendAcknowledged(url: string, count: number, tag: string): Promise<string[]> {
  const ids: string[] = [];
  for (let first = 0; first < count; first += 5) {
    const batch = Array.from({ length: 5 }, (_, i) => ({ body: `${tag}-${first + i}` }));
    const sent = await client(url).sendMessages("q", batch);
    ids.push(...sent.messages.map((message) => message.id));
  }
  return ids;
}

/** Receives until the queue gives nothing more; the ids received. */
async function receiveEverything(url: string): Promise<string[]> {
  const ids: string[] = [];
  for (;;) {
    const { messages } = await client(url).receiveMessages("q", {
      maxMessages: 10,
      waitSeconds: 0,
      visibilityTimeoutSeconds: 600,
    });
    if (messages.length === 0) return ids;
    ids.push(...messages.map((message) => message.id));
  }
}

/** Waits until every node applied what the leader committed (so any of them holds it all). */
async function allCaughtUp(urls: string[], leaderUrl: string): Promise<void> {
  const commit = (await client(leaderUrl).cluster()).commitIndex;
  await eventually("every node caught up", async () => {
    for (const url of urls) if ((await client(url).cluster()).appliedIndex < commit) return;
    return true;
  });
}

Deno.test({
  name:
    "the survivor of a lost majority is forced to sole voter, keeps every message, and grows back",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const options = { voters: ["n1", "n2", "n3"], others: ["n4"] };
    await withCluster("cmqd-force-", options, async (cluster) => {
      const { root, processes, url: urlOf } = cluster;
      await cluster.startVoters("together");
      const leader = await cluster.leaderVia("n1");
      await client(urlOf(leader)).createQueue("q", {});
      const acknowledged = await sendAcknowledged(urlOf(leader), 30, "before");
      await allCaughtUp(["n1", "n2", "n3"].map(urlOf), urlOf(leader));

      // The leader and one follower die for good: their disks are gone.
      const survivor = ["n1", "n2", "n3"].find((id) => id !== leader)!;
      const lost = ["n1", "n2", "n3"].filter((id) => id !== survivor);
      for (const id of lost) {
        await processes.get(id)!.kill();
        await Deno.remove(`${root}/${id}`, { recursive: true });
      }
      await eventually("503 NoLeader on the survivor", async () => {
        const response = await fetch(`${urlOf(survivor)}/v1/queues/q/messages`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ messages: [{ body: "stranded" }] }),
        });
        const body = await response.json();
        return response.status === 503 && body.error.code === "NoLeader" ? true : undefined;
      });

      assert.equal(await processes.get(survivor)!.stop(), 0);
      const forced = await cluster.start(survivor, ["--force-new-cluster"]);
      const warning = forced.output().split("\n").find((line) => line.includes("WARNING"));
      assert.ok(warning !== undefined, forced.output());
      assert.match(warning, /--force-new-cluster: this node is now the SOLE VOTER of its group/);
      assert.match(warning, new RegExp(`removed '${lost[0]}', '${lost[1]}'`));

      const info = await eventually("the survivor leads", async () => {
        const view = await client(forced.url).cluster();
        return view.role === "leader" ? view : undefined;
      });
      assert.deepEqual(info.nodes.map((node) => [node.id, node.role]), [[survivor, "leader"]]);
      // A new cluster id: the removed members (on their old data) are refused at the handshake.
      const renewed = forced.output().match(/the cluster id becomes (\w+) \(it was (\w+)\)/);
      assert.ok(renewed !== null, forced.output());
      assert.notEqual(renewed[1], renewed[2]);
      assert.equal(info.clusterId, renewed[1]);
      const received = await receiveEverything(forced.url);
      assert.deepEqual(received.sort(), [...acknowledged].sort(), "every acknowledged message");

      // Growing back: a fresh node joins through the existing --join path and becomes a voter.
      await cluster.start("n4", ["--join", forced.url]);
      await eventually("n4 a voter", async () => {
        const view = await client(forced.url).cluster();
        return view.nodes.find((node) => node.id === "n4" && node.role === "follower");
      });
      // Two voters now: a write commits only with n4's acknowledgement.
      const afterJoin = await sendAcknowledged(urlOf("n4"), 5, "after-join");
      assert.equal(afterJoin.length, 5);

      // Started again without the flag (as a member, its own --peers entry only), it keeps it.
      assert.equal(await processes.get(survivor)!.stop(), 0);
      // Its old lone command (no --peers) would have no peer port to reach n4: refused, saying so.
      await assert.rejects(
        startBroker({ dataDir: `${root}/${survivor}`, args: ["--node-id", survivor] }),
        new RegExp(
          `holds ${survivor}'s log as a member of a group with n4: start it with --peers`,
        ),
      );
      await cluster.startVoter(
        survivor,
        `${survivor}=127.0.0.1:${cluster.spec(survivor).peerPort}`,
      );
      const members = await eventually("a leader after the restart", async () => {
        const view = await client(urlOf(survivor)).cluster();
        return view.leaderId === null ? undefined : view.nodes.map((node) => node.id).sort();
      });
      assert.deepEqual(members, ["n4", survivor].sort());
      assert.doesNotMatch(processes.get(survivor)!.output(), /WARNING/);
      const more = await sendAcknowledged(urlOf(survivor), 5, "after-restart");
      assert.equal(more.length, 5);
    });
  },
});

Deno.test({
  name: "a copy of a stopped follower's data dir restores with --force-new-cluster and its node id",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await withCluster("cmqd-backup-", { voters: ["n1", "n2", "n3"] }, async (cluster) => {
      const { root, processes, url: urlOf } = cluster;
      await cluster.startVoters("together");
      const leader = await cluster.leaderVia("n1");
      await client(urlOf(leader)).createQueue("q", {});
      const backedUp = await sendAcknowledged(urlOf(leader), 20, "backed-up");
      await allCaughtUp(["n1", "n2", "n3"].map(urlOf), urlOf(leader));

      // Backup: stop a follower (the other two keep the majority), copy its dir, start it again.
      const follower = ["n1", "n2", "n3"].find((id) => id !== leader)!;
      assert.equal(await processes.get(follower)!.stop(), 0);
      const copy = `${root}/backup-${follower}`;
      const cp = await new Deno.Command("cp", { args: ["-a", `${root}/${follower}`, copy] })
        .output();
      assert.ok(cp.success, new TextDecoder().decode(cp.stderr));
      const later = await sendAcknowledged(urlOf(leader), 5, "later");
      await cluster.startVoter(follower);
      await sendAcknowledged(urlOf(leader), 5, "after-backup");

      // Everything is lost; the copy is all there is.
      for (const process of processes.values()) await process.kill();
      processes.clear();

      // The copy belongs to its node: another --node-id is refused (exit 1), changing nothing.
      const wrongId = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "main.ts",
          "--data-dir",
          copy,
          "--node-id",
          "other",
          "--port",
          `${freePort()}`,
          "--force-new-cluster",
        ],
        cwd: new URL("../../", import.meta.url).pathname,
        env: { CMQD_CLUSTER_KEY: testClusterKeyText },
      }).output();
      assert.equal(wrongId.code, 1);
      assert.match(
        new TextDecoder().decode(wrongId.stderr),
        new RegExp(`holds the data of node '${follower}'.*start it with --node-id ${follower}`),
      );

      const restored = await startBroker({
        dataDir: copy,
        port: freePort(),
        args: ["--node-id", follower, "--peer-port", `${freePort()}`, "--force-new-cluster"],
      });
      processes.set(follower, restored); // killed at the end with the others
      assert.match(restored.output(), /WARNING: --force-new-cluster: .*SOLE VOTER/);
      await eventually("the restored node leads", async () => {
        const view = await client(restored.url).cluster();
        return view.role === "leader" && view.nodes.length === 1 ? true : undefined;
      });
      const received = await receiveEverything(restored.url);
      assert.deepEqual(received.sort(), [...backedUp].sort(), "what was acknowledged before");
      assert.ok(!later.some((id) => received.includes(id)));
    });
  },
});

Deno.test({
  name: "--force-new-cluster on a data dir without a log exits 2 before creating anything",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "cmqd-force-empty-" });
    try {
      const missing = `${root}/never-used`;
      const result = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "main.ts",
          "--data-dir",
          missing,
          "--port",
          `${freePort()}`,
          "--force-new-cluster",
        ],
        cwd: new URL("../../", import.meta.url).pathname,
        env: { CMQD_CLUSTER_KEY: testClusterKeyText },
      }).output();
      assert.equal(result.code, 2);
      assert.equal(
        new TextDecoder().decode(result.stderr),
        `cmqd: --force-new-cluster: ${missing} does not exist, so there is nothing to recover: ` +
          "give the data directory of a surviving member (a new node joins with --join instead)\n",
      );
      assert.deepEqual([...Deno.readDirSync(root)], [], "nothing created");
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});
