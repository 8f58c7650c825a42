import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { CmqdError } from "../../sdk/mod.ts";
import { clusterSettled, resolveCommand, startTestBroker } from "../../sdk/testing.ts";

Deno.test("startTestBroker: one node serves, and stop removes its processes and data", async () => {
  const broker = await startTestBroker();
  let stopped = false;
  try {
    assert.equal(broker.nodes.length, 1);
    await broker.client.createQueue("t");
    await broker.client.sendMessages("t", [{ body: "x" }]);
    const { messages } = await broker.client.receiveMessages("t", { waitSeconds: 1 });
    assert.equal(messages[0].body, "x");
    assert.ok(existsSync(broker.dataDir));
    const probe = broker.newClient({ retry: { attemptsMax: 1 } });
    await broker.stop();
    stopped = true;
    assert.equal(existsSync(broker.dataDir), false);
    await assert.rejects(
      probe.health(),
      (error) => error instanceof CmqdError && error.status === 0,
    );
  } finally {
    if (!stopped) await broker.stop();
  }
});

Deno.test("startTestBroker: three nodes form a cluster with one leader", async () => {
  const broker = await startTestBroker({ nodes: 3 });
  try {
    assert.equal(broker.urls.length, 3);
    assert.equal(new Set(broker.nodes.map((node) => node.pid)).size, 3);
    const cluster = await broker.client.cluster();
    assert.equal(cluster.nodes.length, 3);
    assert.ok(cluster.leaderId !== null);
    // Every node follows the leader and may vote by the time the start returns, so a test may
    // stop the leader at once and see another elected.
    for (const url of broker.urls) {
      const view = await broker.newClient({ baseUrl: url }).cluster();
      assert.ok(clusterSettled([view], cluster.leaderId), JSON.stringify(view));
    }
    // Any node accepts any request.
    for (const url of broker.urls) {
      const client = broker.newClient({ baseUrl: url });
      await client.createQueue("shared");
    }
    await broker.client.sendMessages("shared", [{ body: "replicated" }]);
    const queue = await broker.client.getQueue("shared");
    assert.equal(queue.activeMessages, 1);
  } finally {
    await broker.stop();
  }
  assert.equal(existsSync(broker.dataDir), false);
});

Deno.test("startTestBroker: a command that can't start fails with its output", async () => {
  await assert.rejects(
    startTestBroker({
      command: [Deno.execPath(), "eval", "console.log('not cmqd')"],
      readyTimeoutMs: 5_000,
    }),
    /exited while starting[\s\S]*not cmqd/,
  );
});

Deno.test("resolveCommand: an explicit command, else CMQD_COMMAND, else this repository's main.ts", () => {
  assert.deepEqual(resolveCommand({ command: ["cmqd"] }), ["cmqd"]);
  const saved = Deno.env.get("CMQD_COMMAND");
  try {
    Deno.env.set("CMQD_COMMAND", "deno run -A /x/main.ts");
    assert.deepEqual(resolveCommand(), ["deno", "run", "-A", "/x/main.ts"]);
    Deno.env.set("CMQD_COMMAND", '["/opt/my cmqd"]');
    assert.deepEqual(resolveCommand(), ["/opt/my cmqd"]);
    Deno.env.delete("CMQD_COMMAND");
    const command = resolveCommand();
    assert.equal(command[0], Deno.execPath());
    assert.ok(command.at(-1)!.endsWith("main.ts"));
  } finally {
    if (saved === undefined) Deno.env.delete("CMQD_COMMAND");
    else Deno.env.set("CMQD_COMMAND", saved);
  }
});

Deno.test("startTestBroker with credentials: its clients sign, an unsigned client is refused", async () => {
  const credentials = { secretId: "AKIDtest", secretKey: "test-secret-0123456789" };
  const broker = await startTestBroker({ credentials });
  try {
    await broker.client.createQueue("private");
    const unsigned = broker.newClient({ credentials: undefined });
    await assert.rejects(
      unsigned.getQueue("private"),
      (error) => error instanceof CmqdError && error.code === "Unauthenticated",
    );
  } finally {
    await broker.stop();
  }
});

Deno.test("clusterSettled: every node names the leader, has heard of a commit and may vote", () => {
  const view = (leaderId: string | null, commitIndex: number, canVote?: boolean) => ({
    leaderId,
    commitIndex,
    ...(canVote === undefined ? {} : { canVote }),
  });
  assert.equal(clusterSettled([view("n1", 3, true), view("n1", 2)], "n1"), true);
  assert.equal(clusterSettled([view("n1", 3, true), view("n2", 3, true)], "n1"), false);
  assert.equal(clusterSettled([view("n1", 3, true), view("n1", 3, false)], "n1"), false);
  // A node started after the first leader committed, before an append showed it the log (the
  // leader's first heartbeat carries commit 0): it names the leader and still says it may vote.
  assert.equal(clusterSettled([view("n1", 1, true), view("n1", 0, true)], "n1"), false);
});

Deno.test("clusterSettled with node ids: the leader's view answered for every node is not settled", () => {
  // A probe that followed the leader hint asked the leader for every node's view: each says
  // settled, while a follower may not have heard of a commit yet (CI saw n2 at commit 0 then).
  const leaderView = { nodeId: "n3", leaderId: "n3", commitIndex: 1, canVote: true };
  const ids = ["n1", "n2", "n3"];
  assert.equal(clusterSettled([leaderView, leaderView, leaderView], "n3", ids), false);
  const own = ids.map((nodeId) => ({ ...leaderView, nodeId }));
  assert.equal(clusterSettled(own, "n3", ids), true);
  assert.equal(clusterSettled([own[0], { ...own[1], commitIndex: 0 }, own[2]], "n3", ids), false);
});
