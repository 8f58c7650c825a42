/**
 * A request a node received and then held across a freeze of its process (SIGSTOP) longer than
 * `--held-request-max-s` is refused `503 NotReady` when the node resumes, not carried out: its
 * client gave up long ago and sent it again elsewhere, and past the 300 s dedup window a late copy
 * would be stored twice. The bound is set to 2 s here (`CMQD_HELD_REQUEST_MAX_S`) so the test
 * need not freeze a node for minutes. Real `main.ts` processes on loopback; the request is written
 * on a raw connection while the node is stopped (the kernel holds it), which stays open, as a
 * load balancer's would.
 */
import assert from "node:assert/strict";
import { eventually, settled, startBroker } from "./process.ts";
import { withCluster } from "./_cluster_start.ts";

const env = { CMQD_HELD_REQUEST_MAX_S: "2" };

/** Writes a JSON POST on a new connection to `port`; `answer` reads its response. */
async function rawPost(port: number, path: string, body: unknown) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const bytes = new TextEncoder().encode(JSON.stringify(body));
  const head = `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n` +
    `content-type: application/json\r\ncontent-length: ${bytes.length}\r\n\r\n`;
  await conn.write(new Uint8Array([...new TextEncoder().encode(head), ...bytes]));
  return {
    /** Closes the connection unanswered (the client gives up). */
    close: () => conn.close(),
    /** The status and JSON body of the answer (read until its content-length arrived). */
    answer: async (): Promise<
      { status: number; body: { error?: { code: string; message: string } } }
    > => {
      let text = "";
      const buffer = new Uint8Array(64 * 1024);
      const deadline = setTimeout(() => conn.close(), 60_000);
      try {
        for (;;) {
          const end = text.indexOf("\r\n\r\n");
          const length = /content-length: *(\d+)/i.exec(text)?.[1];
          if (end >= 0 && length !== undefined && text.length >= end + 4 + Number(length)) {
            const status = Number(text.split(" ")[1]);
            return { status, body: JSON.parse(text.slice(end + 4, end + 4 + Number(length))) };
          }
          const read = await conn.read(buffer);
          if (read === null) throw new Error(`connection closed after: ${text}`);
          text += new TextDecoder().decode(buffer.subarray(0, read));
        }
      } finally {
        clearTimeout(deadline);
        try {
          conn.close();
        } catch { /* closed by the deadline */ }
      }
    },
  };
}

async function bodiesIn(url: string, queue: string): Promise<string[]> {
  const response = await fetch(`${url}/v1/queues/${queue}/messages/receive`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ maxMessages: 10 }),
  });
  const { messages } = await response.json();
  assert.equal(response.status, 200, JSON.stringify(messages));
  return messages.map((message: { body: string }) => message.body).sort();
}

async function createQueue(url: string, queue: string): Promise<void> {
  const response = await fetch(`${url}/v1/queues/${queue}`, { method: "PUT" });
  await response.body?.cancel();
  assert.equal(response.status, 201);
}

const frozenMs = 4_000; // past the 2 s bound: a wait, not a timing assertion

function assertHeld(
  answer: { status: number; body: { error?: { code: string; message: string } } },
) {
  const said = JSON.stringify(answer.body);
  assert.equal(answer.status, 503, said);
  assert.equal(answer.body.error?.code, "NotReady", said);
  assert.match(answer.body.error!.message, /held \d+ s \(the node was frozen\?\)/, said);
}

Deno.test({
  name: "a send a follower held across a freeze past the bound is refused on resume, not forwarded",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await withCluster("cmqd-held-", { voters: ["n1", "n2", "n3"], env }, async (cluster) => {
      const { processes } = cluster;
      await cluster.startVoters("in turn");
      const leader = await settled([...processes.values()].map((process) => process.url));
      const follower = [...processes.keys()].find((id) => id !== leader)!;
      assert.equal(await cluster.leaderVia(follower), leader);
      const leaderUrl = cluster.url(leader);
      await createQueue(leaderUrl, "money");
      const pid = processes.get(follower)!.pid;
      Deno.kill(pid, "SIGSTOP"); // resumed at the end in any case (`withCluster`)
      const held = await rawPost(cluster.spec(follower).port, "/v1/queues/money/messages", {
        messages: [{ body: "held copy" }],
      });
      // The client gave up on the frozen node and sent it again to the leader.
      const retried = await fetch(`${leaderUrl}/v1/queues/money/messages`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ messages: [{ body: "retried copy" }] }),
      });
      assert.equal(retried.status, 200, await retried.text());
      await new Promise((resolve) => setTimeout(resolve, frozenMs));
      Deno.kill(pid, "SIGCONT");
      assertHeld(await held.answer());
      assert.deepEqual(await bodiesIn(leaderUrl, "money"), ["retried copy"]);
    });
  },
});

Deno.test({
  name: "a send a lone node (its own leader) held across a freeze past the bound is not proposed",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "cmqd-held-lone-" });
    const broker = await startBroker({ dataDir: `${root}/n1`, env });
    try {
      await createQueue(broker.url, "money");
      Deno.kill(broker.pid, "SIGSTOP");
      const held = await rawPost(Number(new URL(broker.url).port), "/v1/queues/money/messages", {
        messages: [{ body: "held copy" }],
      });
      await new Promise((resolve) => setTimeout(resolve, frozenMs));
      Deno.kill(broker.pid, "SIGCONT");
      assertHeld(await held.answer());
      assert.deepEqual(await bodiesIn(broker.url, "money"), []);
    } finally {
      try {
        Deno.kill(broker.pid, "SIGCONT");
      } catch { /* exited */ }
      await broker.kill();
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "a send whose client closed its connection while the follower was frozen is not forwarded",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    // A bound far above the freeze: only the closed connection keeps the send from the leader.
    const patient = { CMQD_HELD_REQUEST_MAX_S: "600" };
    await withCluster(
      "cmqd-held-",
      { voters: ["n1", "n2", "n3"], env: patient },
      async (cluster) => {
        const { processes } = cluster;
        await cluster.startVoters("in turn");
        const leader = await settled([...processes.values()].map((process) => process.url));
        const follower = [...processes.keys()].find((id) => id !== leader)!;
        assert.equal(await cluster.leaderVia(follower), leader);
        const leaderUrl = cluster.url(leader);
        await createQueue(leaderUrl, "money");
        const pid = processes.get(follower)!.pid;
        // A few rounds: the close and the resume race differently each time.
        for (let round = 0; round < 3; round++) {
          Deno.kill(pid, "SIGSTOP");
          const gone = await rawPost(cluster.spec(follower).port, "/v1/queues/money/messages", {
            messages: [{ body: `gone ${round}` }],
          });
          gone.close(); // the client gave up while the node was frozen
          await new Promise((resolve) => setTimeout(resolve, 500));
          Deno.kill(pid, "SIGCONT");
          // Its answer (a 503 or the forward's) is on the follower's side before it serves this.
          await eventually("the follower serving", async () => {
            const response = await fetch(`${cluster.url(follower)}/healthz`);
            await response.body?.cancel();
            return response.ok ? true : undefined;
          });
        }
        // A forward of any of them would have been answered by now; a send after them settles it.
        const after = await fetch(`${cluster.url(follower)}/v1/queues/money/messages`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ messages: [{ body: "after" }] }),
        });
        assert.equal(after.status, 200, await after.text());
        assert.deepEqual(await bodiesIn(leaderUrl, "money"), ["after"]);
      },
    );
  },
});
