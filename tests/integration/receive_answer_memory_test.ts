/**
 * A receive's answer is bounded at 64 MiB of bodies, but JSON writes a control character as six
 * bytes (`\u0001`), so 64 bodies of 1 MiB of them (sent on the CMQ door, which takes them) make
 * a 384 MiB answer. Built whole, as one string and then its bytes, it cost the node about 1.4 GB
 * of RSS for one receive (and as much again for each receiver at once). A large answer is now
 * written message by message as the client reads it: the node holds the bodies it read and one
 * message's JSON at a time. Checked on a real process, with a generous bound on its peak RSS
 * (`VmHWM`, reset before the receive by `/proc/<pid>/clear_refs`), no timing.
 */
import assert from "node:assert/strict";
import { startBroker } from "./process.ts";

const messages = 32;
const bodyChars = 1024 * 1024;

function peakKiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmHWM:\s+(\d+)/.exec(status)![1]);
}

Deno.test({
  name: "a receive of bodies JSON escapes six-fold answers without building the whole answer",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const dataDir = await Deno.makeTempDir({ prefix: "cmqd-answer-memory-" });
    const broker = await startBroker({ dataDir });
    try {
      const created = await fetch(`${broker.url}/v1/queues/esc`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ maxMessageBytes: bodyChars, visibilityTimeoutSeconds: 600 }),
      });
      assert.equal(created.status, 201, await created.text());
      const form = "Action=SendMessage&queueName=esc&msgBody=" + "%01".repeat(bodyChars);
      for (let i = 0; i < messages; i++) {
        const sent = await fetch(`${broker.url}/v2/index.php`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: form,
        });
        assert.equal(JSON.parse(await sent.text()).code, 0);
      }
      // Let the sends' garbage go, then measure the receive alone.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      Deno.writeTextFileSync(`/proc/${broker.pid}/clear_refs`, "5");
      const before = peakKiB(broker.pid);
      const answer = await fetch(`${broker.url}/v1/queues/esc/messages/receive`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ maxMessages: messages }),
      });
      assert.equal(answer.status, 200);
      assert.equal(answer.headers.get("content-type"), "application/json");
      const text = await answer.text();
      const grownMiB = (peakKiB(broker.pid) - before) / 1024;
      const got = JSON.parse(text).messages as { body: string }[];
      assert.equal(got.length, messages);
      assert.ok(got.every((m) => m.body === "\u0001".repeat(bodyChars)));
      assert.equal(text.length, JSON.stringify(JSON.parse(text)).length);
      // The answer is 192 MiB of JSON; built whole the node grew by about 700 MiB.
      assert.ok(grownMiB < 400, `the node's peak RSS grew by ${grownMiB.toFixed(0)} MiB`);
    } finally {
      await broker.kill();
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});
