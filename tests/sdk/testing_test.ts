import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { CmqdError } from "../../sdk/mod.ts";
import { resolveCommand, startTestBroker } from "../../sdk/testing.ts";

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
