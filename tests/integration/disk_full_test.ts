/**
 * Disk full on a real (small, loop-mounted ext4) file system:
 * - below `--min-free-disk-mb` sends get 507 InsufficientStorage while receives, deletes and queue
 *   deletes keep working (the node stays ready, `cmqd_disk_alarm` 1 on `/metrics`), and sends
 *   resume by themselves once space is freed;
 * - with the guard off, the write that fails ends the process with a clear line (exit 74), and a
 *   restart with space again recovers every acknowledged message.
 * Needs root for `mount`; skipped with the reason printed where it is refused.
 */
import assert from "node:assert/strict";
import { type BrokerProcess, startBroker } from "./process.ts";
import { fill, freeBytes, mountSmallDisk } from "./_small_disk.ts";
import { parsePrometheusText } from "../../broker/http/testing/mod.ts";

const mib = 1024 * 1024;
const body = "x".repeat(60_000);

async function call(url: string, path: string, init: { method?: string; body?: unknown } = {}) {
  const response = await fetch(url + path, {
    method: init.method ?? "POST",
    headers: { "content-type": "application/json" },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await response.text();
  return { status: response.status, json: text === "" ? null : JSON.parse(text) };
}

const sendBatch = (url: string, queue: string) =>
  call(url, `/v1/queues/${queue}/messages`, {
    body: { messages: Array.from({ length: 16 }, () => ({ body })) },
  });

Deno.test({
  name:
    "below --min-free-disk-mb sends get 507 while consumers drain, and sends resume when space returns",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const { disk, reason } = await mountSmallDisk(96);
    if (disk === null) {
      console.log(`skipped: ${reason}`);
      return;
    }
    let broker: BrokerProcess | null = null;
    try {
      broker = await startBroker({
        dataDir: `${disk.dir}/data`,
        args: ["--min-free-disk-mb", "24"],
      });
      const url = broker.url;
      assert.equal((await call(url, "/v1/queues/jobs", { method: "PUT", body: {} })).status, 201);
      assert.equal((await call(url, "/v1/queues/spare", { method: "PUT", body: {} })).status, 201);
      // Leave about 40 MiB free, then send ~1 MiB batches until the alarm trips.
      await fill(`${disk.dir}/filler`, (await freeBytes(disk.dir)) - 40 * mib);
      let refused: { status: number; json: { error: { code: string; message: string } } } | null =
        null;
      let sent = 0;
      for (let batch = 0; batch < 200 && refused === null; batch++) {
        const answer = await sendBatch(url, "jobs");
        if (answer.status === 200) sent += 16;
        else if (answer.status === 507) refused = answer;
        else assert.fail(`unexpected ${answer.status} ${JSON.stringify(answer.json)}`);
        if (answer.status === 200 && batch % 4 === 3) await new Promise((r) => setTimeout(r, 300));
      }
      assert.ok(refused !== null, "sends were refused before the disk filled");
      assert.equal(refused.json.error.code, "InsufficientStorage");
      assert.match(refused.json.error.message, /below --min-free-disk-mb 24/);
      assert.match(broker.output(), /disk alarm: \d+ MiB free/);
      assert.ok(sent > 0);
      // What an operator sees meanwhile (README, "Health probes"): still ready (receives and
      // deletes free space), and the alarm on /metrics with the free bytes the guard read.
      const ready = await fetch(`${url}/readyz`);
      assert.equal(ready.status, 200, await ready.text());
      let samples = parsePrometheusText(await (await fetch(`${url}/metrics`)).text());
      assert.equal(samples.get("cmqd_disk_alarm"), 1);
      assert.ok(samples.get("cmqd_disk_free_bytes")! < 24 * mib, "below the threshold");

      await t.step("receives, deletes and queue deletes still work", async () => {
        const received = await call(url, "/v1/queues/jobs/messages/receive", {
          body: { maxMessages: 32, visibilityTimeoutSeconds: 600 },
        });
        assert.equal(received.status, 200);
        assert.equal(received.json.messages.length, 32);
        const deleted = await call(url, "/v1/queues/jobs/messages/delete", {
          body: {
            receiptHandles: received.json.messages.map((m: { receiptHandle: string }) =>
              m.receiptHandle
            ),
          },
        });
        assert.equal(deleted.status, 200);
        assert.equal(deleted.json.deleted, 32);
        assert.equal((await call(url, "/v1/queues/spare", { method: "DELETE" })).status, 204);
        assert.equal((await sendBatch(url, "jobs")).status, 507, "still refused");
      });

      await t.step("sends resume by themselves once space is freed", async () => {
        await Deno.remove(`${disk.dir}/filler`);
        const deadline = Date.now() + 20_000;
        let status = 0;
        while (status !== 200 && Date.now() < deadline) {
          status = (await sendBatch(url, "jobs")).status;
          if (status !== 200) await new Promise((r) => setTimeout(r, 100));
        }
        assert.equal(status, 200);
        assert.match(broker!.output(), /disk alarm cleared/);
        samples = parsePrometheusText(await (await fetch(`${url}/metrics`)).text());
        assert.equal(samples.get("cmqd_disk_alarm"), 0);
        assert.ok(samples.get("cmqd_disk_free_bytes")! >= 24 * mib);
      });
      assert.equal(await broker.stop(), 0);
      broker = null;
    } finally {
      await broker?.kill();
      await disk.remove();
    }
  },
});

Deno.test({
  name:
    "with the guard off, a write that fails on a full disk ends the process (exit 74) and a restart keeps every acknowledged send",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const { disk, reason } = await mountSmallDisk(96);
    if (disk === null) {
      console.log(`skipped: ${reason}`);
      return;
    }
    const dataDir = `${disk.dir}/data`;
    let broker: BrokerProcess | null = null;
    try {
      broker = await startBroker({ dataDir, args: ["--min-free-disk-mb", "0"] });
      const url = broker.url;
      await call(url, "/v1/queues/jobs", { method: "PUT", body: {} });
      await fill(`${disk.dir}/filler`, (await freeBytes(disk.dir)) - 8 * mib);
      let acknowledged = 0;
      let code: number | null = null;
      const exited = broker.child.status.then((status) => (code = status.code));
      for (let batch = 0; batch < 100 && code === null; batch++) {
        try {
          const answer = await sendBatch(url, "jobs");
          if (answer.status === 200) acknowledged += 16;
        } catch {
          break; // the process is gone
        }
      }
      await exited;
      assert.equal(code, 74, broker.output());
      assert.match(broker.output(), /FATAL: storage failed: .*exiting with status 74/);
      await broker.kill();
      broker = null;

      await Deno.remove(`${disk.dir}/filler`);
      broker = await startBroker({ dataDir, args: ["--min-free-disk-mb", "0"] });
      const queue = await call(broker.url, "/v1/queues/jobs", { method: "GET" });
      assert.ok(
        queue.json.activeMessages >= acknowledged,
        `${queue.json.activeMessages} of ${acknowledged} acknowledged`,
      );
      assert.equal(await broker.stop(), 0);
      broker = null;
    } finally {
      await broker?.kill();
      await disk.remove();
    }
  },
});
