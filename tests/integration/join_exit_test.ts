/**
 * How `main.ts` ends when a cluster start can't go on, on real processes: a peer port in use, a
 * join the cluster refuses (another cluster key, a 400 from the leader), and a SIGTERM while the
 * join waits for a leader. Each gives the README's exit status with one line, never an uncaught
 * error's stack trace; a port in use leaves the data directory unclaimed (its lock file only);
 * the SIGTERM is the graceful shutdown it is once the node serves.
 */
import assert from "node:assert/strict";
import {
  clusterPorts,
  eventually,
  freePort,
  spawnMain,
  startBroker,
  testClusterKeyText,
} from "./process.ts";

/** Starts `main.ts` with `args`, output collected; the caller awaits `done` or signals it. */
function spawn(dataDir: string, args: string[], key: string | null = testClusterKeyText) {
  // A node that runs alone is given no key: it would say, in a line of its own, it doesn't use it.
  const env: Record<string, string> = key === null ? {} : { CMQD_CLUSTER_KEY: key };
  const child = spawnMain(dataDir, args, { port: false, env });
  let stdout = "";
  let stderr = "";
  const decoder = new TextDecoder();
  const pump = async (stream: ReadableStream<Uint8Array>, to: (text: string) => void) => {
    for await (const chunk of stream) to(decoder.decode(chunk, { stream: true }));
  };
  const pumps = Promise.all([
    pump(child.stdout, (text) => stdout += text),
    pump(child.stderr, (text) => stderr += text),
  ]);
  const done = Promise.all([child.status, pumps]).then(([status]) => ({
    code: status.code,
    stdout,
    stderr,
  }));
  return { child, done, output: () => stdout + stderr };
}

/** The names in `dir`, sorted. */
function entriesOf(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((entry) => entry.name).sort();
}

/** The one line a refused start writes on stderr, checked for what an uncaught error adds. */
function assertOneLine(stderr: string, line: RegExp, shown: string): void {
  assert.doesNotMatch(stderr, /Uncaught|\n\s+at /, `a stack trace: ${shown}`);
  assert.match(stderr, line, shown);
}

Deno.test({
  name: "a start that can't join or listen for peers exits with its status and one line",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const temp = await Deno.makeTempDir({ prefix: "cmqd-join-exit-" });
    const { specs, peers } = clusterPorts(["n1"]);
    const member = await startBroker({
      dataDir: `${temp}/n1`,
      port: specs[0].port,
      args: ["--node-id", "n1", "--peer-port", String(specs[0].peerPort), "--peers", peers],
    });
    try {
      await eventually("n1 leads", async () => {
        const info = await (await fetch(`${member.url}/v1/cluster`)).json();
        return info.leaderId === "n1" || undefined;
      });

      // The peer port is taken: was an uncaught AddrInUse, exit 1.
      const peerPort = freePort();
      const taken = Deno.listen({ hostname: "127.0.0.1", port: peerPort });
      try {
        const answer = await spawn(`${temp}/busy`, [
          "--port",
          String(freePort()),
          "--peer-port",
          String(peerPort),
          "--peers",
          `n1=127.0.0.1:${peerPort}`,
        ]).done;
        const shown = JSON.stringify(answer);
        assert.equal(answer.code, 2, shown);
        assertOneLine(
          answer.stderr,
          new RegExp(
            `^cmqd n1: cannot listen for peers on 127\\.0\\.0\\.1:${peerPort} \\(--peer-port\\): ` +
              `Address already in use`,
          ),
          shown,
        );
        // Nothing but the lock file: the directory is not claimed for the id (was: node-id).
        assert.deepEqual(entriesOf(`${temp}/busy`), ["lock"]);
        // The client port taken: the same, with its own line (status 2 before too).
        const client = await spawn(`${temp}/busy-client`, ["--port", String(peerPort)], null)
          .done;
        assert.equal(client.code, 2, JSON.stringify(client));
        assertOneLine(
          client.stderr,
          new RegExp(
            `^cmqd: cannot listen for clients on 127\\.0\\.0\\.1:${peerPort} \\(--host, --port\\): ` +
              "Address already in use",
          ),
          JSON.stringify(client),
        );
        assert.deepEqual(entriesOf(`${temp}/busy-client`), ["lock"]);
      } finally {
        taken.close();
      }

      const join = (id: string) => [
        "--node-id",
        id,
        "--port",
        String(freePort()),
        "--peer-port",
        String(freePort()),
        "--join",
        member.url,
      ];
      // Another cluster's key: the member answers 401 to the first question; was uncaught, exit 1.
      const otherKey = await spawn(`${temp}/other-key`, join("n2"), "another-key-".repeat(4)).done;
      assert.equal(otherKey.code, 2, JSON.stringify(otherKey));
      assertOneLine(
        otherKey.stderr,
        new RegExp(`^cmqd n2: not joining: ${member.url} refused this node's cluster key`, "m"),
        JSON.stringify(otherKey),
      );

      // The leader refuses the join itself (400, once the node has started): was uncaught, exit 1.
      const refused = await spawn(`${temp}/refused`, join("n1")).done;
      assert.equal(refused.code, 2, JSON.stringify(refused));
      assertOneLine(
        refused.stderr,
        /^cmqd n1: not joining: join refused \(400\): .*node 'n1' is this node, the leader/m,
        JSON.stringify(refused),
      );
    } finally {
      await member.kill();
      await Deno.remove(temp, { recursive: true });
    }
  },
});

Deno.test({
  name: "a SIGTERM while a join waits for a leader shuts the node down gracefully (exit 0)",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const temp = await Deno.makeTempDir({ prefix: "cmqd-join-term-" });
    // n2 never starts: n1 has no leader, so the join is answered 503 and retried.
    const { specs, peers } = clusterPorts(["n1", "n2"]);
    const member = await startBroker({
      dataDir: `${temp}/n1`,
      port: specs[0].port,
      args: ["--node-id", "n1", "--peer-port", String(specs[0].peerPort), "--peers", peers],
    });
    const joiner = spawn(`${temp}/n3`, [
      "--node-id",
      "n3",
      "--port",
      String(freePort()),
      "--peer-port",
      String(freePort()),
      "--join",
      member.url,
    ]);
    try {
      await eventually(
        "a join attempt answered NoLeader",
        () => Promise.resolve(/join attempt 1: 503/.test(joiner.output()) || undefined),
      );
      joiner.child.kill("SIGTERM");
      const answer = await joiner.done;
      // Was killed by the signal (exit 143): the listeners came after the join.
      assert.equal(answer.code, 0, JSON.stringify(answer));
      assert.match(answer.stdout, /n3: SIGTERM, shutting down[\s\S]*n3: stopped/);
    } finally {
      try {
        joiner.child.kill("SIGKILL");
      } catch { /* exited */ }
      await joiner.done;
      await member.kill();
      await Deno.remove(temp, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "before the node serves, a request is refused 503 NotReady with a request id; /healthz answers alive",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const temp = await Deno.makeTempDir({ prefix: "cmqd-join-early-" });
    // Nothing listens on the member's port: the node listens, and asks for the cluster again.
    const port = freePort();
    const joiner = spawn(`${temp}/n3`, [
      "--node-id",
      "n3",
      "--port",
      String(port),
      "--peer-port",
      String(freePort()),
      "--join",
      `http://127.0.0.1:${freePort()}`,
    ]);
    try {
      await eventually(
        "a request for the cluster that failed",
        () => Promise.resolve(/for the cluster: /.test(joiner.output()) || undefined),
      );
      const early = await fetch(`http://127.0.0.1:${port}/v1/queues/q`);
      const { error } = await early.json();
      assert.equal(early.status, 503);
      assert.equal(early.headers.get("retry-after"), "1");
      assert.equal(error.code, "NotReady");
      // Named like every answer of the API: its requestId was empty, and no x-request-id came.
      assert.match(error.requestId, /^[0-9a-f-]{36}$/);
      assert.equal(early.headers.get("x-request-id"), error.requestId);
      // Alive while it starts: a liveness probe must not restart a node in a long join.
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      assert.equal(health.status, 200);
      assert.deepEqual(await health.json(), { status: "starting" });
      assert.match(health.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      assert.equal(ready.status, 503);
      await ready.body?.cancel();
      joiner.child.kill("SIGTERM");
      assert.equal((await joiner.done).code, 0);
    } finally {
      try {
        joiner.child.kill("SIGKILL");
      } catch { /* exited */ }
      await joiner.done;
      await Deno.remove(temp, { recursive: true });
    }
  },
});
