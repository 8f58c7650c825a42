/**
 * A send with a `dedupId` whose answer was lost, against three real `main.ts` processes: the
 * leader stored it, the connection dropped before the answer came back, and the leader was
 * killed with SIGKILL (or frozen with SIGSTOP). The client's own retry goes to the new leader,
 * which answers the id the first copy was stored under, and the queue holds one copy (a batch
 * of that send and a new one after it too); the same id sent after the whole cluster restarted
 * (its dedup record replayed from the log) is still that copy.
 */
import assert from "node:assert/strict";
import { CmqdClient } from "../../sdk/mod.ts";
import { type BrokerProcess, clusterPorts, eventually, startBroker } from "./process.ts";

Deno.test({
  name: "a lost answer, a kill -9 of the leader, a full restart: one copy, one id",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () => lostAnswerThenFault("kill"),
});

Deno.test({
  name: "a lost answer, the leader frozen (SIGSTOP) then let go: one copy, one id",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () => lostAnswerThenFault("freeze"),
});

/**
 * `kill`: the leader is killed with SIGKILL and started again after each queue's sends, and the
 * whole cluster restarted at the end. `freeze`: the leader is stopped with SIGSTOP (the retry
 * leaves it after its head timeout) and let go with SIGCONT after each queue's sends.
 */
async function lostAnswerThenFault(fault: "kill" | "freeze"): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "cmqd-dedup-failover-" });
  const { specs, peers } = clusterPorts(["n1", "n2", "n3"]);
  const urls = specs.map((spec) => `http://127.0.0.1:${spec.port}`);
  const processes = new Map<string, BrokerProcess>();
  let frozen: BrokerProcess | undefined;
  const start = (spec: (typeof specs)[number]) =>
    startBroker({
      dataDir: `${root}/${spec.id}`,
      port: spec.port,
      args: ["--node-id", spec.id, "--peer-port", String(spec.peerPort), "--peers", peers],
    }).then((process) => processes.set(spec.id, process));
  const probes = urls.map((url) => new CmqdClient({ baseUrl: url, followLeader: false }));
  const leader = () =>
    eventually("a leader", async () => {
      for (const [index, probe] of probes.entries()) {
        const process = processes.get(specs[index].id);
        if (process === undefined || process === frozen) continue;
        const info = await probe.cluster().catch(() => undefined);
        if (info?.role === "leader" && await probe.ready().catch(() => false)) return info.nodeId;
      }
      return undefined;
    }, 30_000);
  /** Set by the test: the next send's answer is dropped, and this runs before the client learns it. */
  let loseNextSend: (() => Promise<void>) | undefined;
  const lostAnswers: string[] = [];
  const client = new CmqdClient({
    baseUrl: urls,
    // Enough attempts to wait out the election (each NoLeader asks for a second).
    retry: { attemptsMax: 20 },
    fetch: async (input, init) => {
      const response = await fetch(input, init);
      const url = input instanceof Request ? input.url : String(input);
      const lose = loseNextSend;
      if (lose !== undefined && init?.method === "POST" && url.endsWith("/messages")) {
        loseNextSend = undefined;
        lostAnswers.push(await response.text());
        await lose();
        throw new TypeError("error reading a body from connection: connection reset");
      }
      return response;
    },
  });
  try {
    await Promise.all(specs.map(start));
    await leader();
    for (const fifo of [false, true]) {
      const queue = fifo ? "payments-fifo" : "payments";
      await eventually(
        "the queue",
        () => client.createQueue(queue, { fifo }).catch(() => undefined),
      );
      const transfer = (n: number) => ({
        body: `pay ${n} to bob`,
        dedupId: `transfer-${n}`,
        ...(fifo ? { groupId: "bob" } : {}),
      });
      await client.sendMessages(queue, [transfer(1)]);
      // The first attempt is stored; its answer never reaches the client, whose connection
      // drops as the leader dies (or freezes). The retry is answered by the new leader.
      let victim: string | undefined;
      loseNextSend = async () => {
        victim = await leader();
        const process = processes.get(victim)!;
        if (fault === "freeze") {
          Deno.kill(process.pid, "SIGSTOP");
          frozen = process;
          return;
        }
        await process.kill();
        processes.delete(victim);
      };
      const [retried] = (await client.sendMessages(queue, [transfer(2)])).messages;
      assert.equal(lostAnswers.length, 1, "the first answer was lost");
      const [first] = JSON.parse(lostAnswers.pop()!).messages;
      assert.equal(retried.id, first.id, "the retry names the first copy");
      assert.equal(retried.sequence, first.sequence);
      // A mixed batch: one stored (its answer lost above), one new.
      const mixed = (await client.sendMessages(queue, [transfer(2), transfer(3)])).messages;
      assert.equal(mixed[0].id, first.id);
      assert.notEqual(mixed[1].id, first.id);
      if (frozen !== undefined) {
        Deno.kill(frozen.pid, "SIGCONT");
        frozen = undefined;
      } else {
        await start(specs.find((spec) => spec.id === victim)!);
      }
      await leader();
    }
    if (fault === "kill") {
      // The whole cluster down and up again: the dedup records come back from the disks.
      const [before] =
        (await client.sendMessages("payments", [{ body: "x", dedupId: "transfer-2" }])).messages;
      for (const [id, process] of [...processes]) {
        await process.kill();
        processes.delete(id);
      }
      await Promise.all(specs.map(start));
      await leader();
      const after = await eventually(
        "a send after the restart",
        () =>
          client.sendMessages("payments", [{ body: "y", dedupId: "transfer-2" }])
            .catch(() => undefined),
        30_000,
      );
      assert.equal(after.messages[0].id, before.id);
    }
    for (const queue of ["payments", "payments-fifo"]) {
      const bodies: string[] = [];
      for (let round = 0; round < 5; round++) {
        const received = await client.receiveMessages(queue, {
          maxMessages: 10,
          waitSeconds: 0,
          visibilityTimeoutSeconds: 600,
        });
        bodies.push(...received.messages.map((message) => message.body));
        // (A FIFO group hands out its next message once the one before is deleted.)
        const handles = received.messages.map((message) => message.receiptHandle);
        if (handles.length > 0) await client.deleteMessages(queue, handles);
      }
      assert.deepEqual(bodies.sort(), ["pay 1 to bob", "pay 2 to bob", "pay 3 to bob"], queue);
    }
  } finally {
    if (frozen !== undefined) Deno.kill(frozen.pid, "SIGCONT");
    client.close();
    for (const probe of probes) probe.close();
    for (const process of processes.values()) await process.kill();
    await Deno.remove(root, { recursive: true });
  }
}
