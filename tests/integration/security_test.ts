/**
 * Security on real `main.ts` processes: protected mode refusing a non-loopback `--host`, the
 * credentials file (a bad one refuses to start, SIGHUP re-reads it and keeps the old keys when
 * the new file is bad), the SDK signing against a broker with credentials, and a node joining a
 * cluster with credentials by proving the cluster key. HTTPS is in `https_test.ts`.
 */
import assert from "node:assert/strict";
import { CmqdClient, CmqdError } from "../../sdk/mod.ts";
import { freePort } from "./process.ts";
import {
  credentials,
  exists,
  externalAddress,
  type Program,
  runMain,
  serving,
  withTempDir,
} from "./_main_program.ts";

Deno.test("a non-loopback --host without credentials refuses to start and says why", async () => {
  await withTempDir("cmqd-sec-", async (dir) => {
    const port = freePort();
    const program = runMain(["--host", "0.0.0.0", "--port", String(port), "--data-dir", dir]);
    assert.equal(await program.exited(), 2);
    assert.match(
      program.output(),
      /cmqd: refusing to listen on --host 0\.0\.0\.0 without a credentials file: anyone who can reach it could read, change and delete every queue\. Give --credentials FILE/,
    );
    assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing was written");
  });
});

Deno.test("--insecure on 0.0.0.0 starts and serves a client on another address", async () => {
  await withTempDir("cmqd-sec-", async (dir) => {
    const port = freePort();
    const program = runMain([
      "--host",
      "0.0.0.0",
      "--insecure",
      "--port",
      String(port),
      "--data-dir",
      dir,
    ]);
    try {
      await program.printed(serving("http", "0.0.0.0", port));
      assert.match(program.output(), /--insecure: serving every client without credentials/);
      const address = externalAddress() ?? "127.0.0.1";
      const client = new CmqdClient({ baseUrl: `http://${address}:${port}` });
      await client.createQueue("open");
      assert.equal((await client.listQueues()).total, 1);
    } finally {
      await program.stop();
    }
  });
});

Deno.test("SIGHUP to a broker without a credentials file changes nothing and says so", async () => {
  await withTempDir("cmqd-sec-", async (dir) => {
    const port = freePort();
    const program = runMain(["--port", String(port), "--data-dir", dir]);
    try {
      await program.printed(serving("http", "127.0.0.1", port));
      // SIGHUP's default action ends a process that does not listen for it.
      Deno.kill(program.pid, "SIGHUP");
      await program.printed("SIGHUP: ignored, this broker runs without a credentials file");
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      assert.equal(health.status, 200, "still serving");
      await health.body?.cancel();
    } finally {
      await program.stop();
    }
  });
});

Deno.test("a bad or missing credentials file refuses to start, naming the place", async () => {
  await withTempDir("cmqd-sec-", async (dir) => {
    const file = `${dir}/credentials.json`;
    await Deno.writeTextFile(file, credentials([["AKIDa", "s", ["queue:x:write"]]]));
    const bad = runMain([
      "--port",
      String(freePort()),
      "--data-dir",
      `${dir}/d`,
      "--credentials",
      file,
    ]);
    assert.equal(await bad.exited(), 2);
    assert.match(
      bad.output(),
      new RegExp(
        `cmqd: not starting: ${file}: keys\\[0\\]\\.allow\\[0\\]: unknown action 'write' for kind queue`,
      ),
    );
    const missing = runMain([
      "--port",
      String(freePort()),
      "--data-dir",
      `${dir}/d`,
      "--credentials",
      `${dir}/nope.json`,
    ]);
    assert.equal(await missing.exited(), 2);
    assert.match(missing.output(), /nope\.json: cannot read the credentials file/);
    // Found before the data directory is touched: not created, not claimed for a node id.
    assert.equal(await exists(`${dir}/d`), false, "the data directory was created");
  });
});

Deno.test({
  name: "with credentials: the SDK signs, wrong secrets get 401, SIGHUP swaps the keys",
  fn: async () => {
    await withTempDir("cmqd-sec-", async (dir) => {
      const file = `${dir}/credentials.json`;
      await Deno.writeTextFile(
        file,
        credentials([
          ["AKIDadmin", "admin-secret", ["*"]],
          ["AKIDworker", "worker-secret", ["queue:jobs:receive", "queue:jobs:send"]],
        ]),
      );
      await Deno.chmod(file, 0o644); // readable by others: warned about, still served
      const port = freePort();
      const program = runMain([
        "--host",
        "0.0.0.0",
        "--port",
        String(port),
        "--data-dir",
        `${dir}/d`,
        "--credentials",
        file,
      ]);
      try {
        await program.printed(serving("http", "0.0.0.0", port));
        assert.match(program.output(), /2 keys loaded from /);
        assert.match(
          program.output(),
          /WARNING: credentials file \S+ can be read by other users \(mode 644\); run: chmod 600 /,
        );
        const baseUrl = `http://${externalAddress() ?? "127.0.0.1"}:${port}`;
        const as = (secretId: string, secretKey: string) =>
          new CmqdClient({
            baseUrl,
            credentials: { secretId, secretKey },
            retry: { attemptsMax: 1 },
          });
        const admin = as("AKIDadmin", "admin-secret");
        const worker = as("AKIDworker", "worker-secret");
        await admin.createQueue("jobs");
        await worker.sendMessages("jobs", [{ body: "signed" }]);
        const { messages } = await worker.receiveMessages("jobs", { waitSeconds: 0 });
        assert.deepEqual(messages.map((message) => message.body), ["signed"]);
        await worker.deleteMessages("jobs", [messages[0].receiptHandle]);

        await assertRejectsWith(as("AKIDadmin", "wrong").getQueue("jobs"), "Unauthenticated", 401);
        await assertRejectsWith(
          new CmqdClient({ baseUrl }).getQueue("jobs"),
          "Unauthenticated",
          401,
        );
        await assertRejectsWith(worker.purge("jobs"), "AccessDenied", 403);
        await assertRejectsWith(worker.listQueues(), "AccessDenied", 403);
        const health = await fetch(`${baseUrl}/healthz`);
        assert.equal(health.status, 200, "health stays open");
        await health.body?.cancel();

        await Deno.writeTextFile(file, credentials([["AKIDnew", "new-secret", ["*"]]]));
        Deno.kill(program.pid, "SIGHUP");
        await program.printed(/SIGHUP: 1 key reloaded from /);
        await assertRejectsWith(admin.getQueue("jobs"), "Unauthenticated", 401);
        assert.equal((await as("AKIDnew", "new-secret").getQueue("jobs")).name, "jobs");

        await Deno.writeTextFile(file, '{"keys": [{"secretId": "AKIDbroken"}]}');
        Deno.kill(program.pid, "SIGHUP");
        await program.printed(
          /SIGHUP: credentials not reloaded, the 1 key in use stays: .*keys\[0\]: missing field 'secretKey'/,
        );
        assert.equal((await as("AKIDnew", "new-secret").getQueue("jobs")).name, "jobs");
      } finally {
        await program.stop();
      }
    });
  },
});

async function assertRejectsWith(promise: Promise<unknown>, code: string, status: number) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof CmqdError, String(error));
    assert.equal(error.code, code);
    assert.equal(error.status, status);
    return true;
  });
}

Deno.test("a node joins a cluster whose members have credentials by proving the cluster key", async () => {
  await withTempDir("cmqd-sec-", async (dir) => {
    const file = `${dir}/credentials.json`;
    await Deno.writeTextFile(
      file,
      credentials([["AKIDapp", "app", ["queue:*:read"]], ["AKIDops", "ops", [
        "cluster:read",
        "cluster:manage",
      ]]]),
    );
    // The joiner's own file grants nothing on the cluster: the cluster key is what lets it in.
    const joinerFile = `${dir}/joiner.json`;
    await Deno.writeTextFile(joinerFile, credentials([["AKIDapp", "app", ["queue:*:read"]]]));
    const [port1, peer1, port2, peer2] = [freePort(), freePort(), freePort(), freePort()];
    const n1 = runMain([
      "--credentials",
      file,
      "--node-id",
      "n1",
      "--port",
      String(port1),
      "--peer-port",
      String(peer1),
      "--peers",
      `n1=127.0.0.1:${peer1}`,
      "--data-dir",
      `${dir}/n1`,
    ]);
    let n2: Program | undefined;
    try {
      await n1.printed(serving("http", "127.0.0.1", port1));
      n2 = runMain([
        "--credentials",
        joinerFile,
        "--node-id",
        "n2",
        "--port",
        String(port2),
        "--peer-port",
        String(peer2),
        "--join",
        `http://127.0.0.1:${port1}`,
        "--data-dir",
        `${dir}/n2`,
      ]);
      await n2.printed("n2: joined the cluster");
      const ops = new CmqdClient({
        baseUrl: `http://127.0.0.1:${port1}`,
        credentials: { secretId: "AKIDops", secretKey: "ops" },
      });
      const info = await ops.cluster();
      assert.deepEqual(info.nodes.map((node) => node.id).sort(), ["n1", "n2"]);
      // Without the cluster key's signature the same request needs cluster:manage.
      const unsigned = await fetch(`http://127.0.0.1:${port1}/v1/cluster/nodes`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ id: "n9", peerAddress: "127.0.0.1:1", clientUrl: "http://x:1" }),
      });
      assert.equal(unsigned.status, 401);
      await unsigned.body?.cancel();
    } finally {
      await n2?.stop();
      await n1.stop();
    }
  });
});
