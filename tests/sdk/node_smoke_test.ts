/**
 * The SDK under Node: `deno bundle` turns `sdk/mod.ts` into one ESM file (as the npm build
 * will), and a Node script drives a real broker through it with `globalThis.fetch` broken — so
 * it passes only if the client picked its `node:http` transport by itself. Skipped where no
 * `node` is installed.
 */
import assert from "node:assert/strict";
import { startTestBroker } from "./_broker.ts";

const nodeAvailable = await new Deno.Command("node", { args: ["--version"], stdout: "null" })
  .output().then((output) => output.success, () => false);

const smokeScript = `
import { CmqdClient, Consumer, Producer } from "./sdk.mjs";
globalThis.fetch = () => { throw new Error("fetch must not be used in Node"); };
const client = new CmqdClient({ baseUrl: process.argv[2] });
await client.createQueue("node-smoke");
const producer = new Producer(client, "node-smoke", { autoDedupId: true });
await Promise.all(Array.from({ length: 50 }, (_, index) => producer.send("n" + index)));
await producer.close();
const seen = new Set();
const consumer = new Consumer(client, "node-smoke", {
  concurrency: 4, waitSeconds: 1, handleMessage: (message) => { seen.add(message.body); },
});
consumer.start();
const giveUpAt = Date.now() + 20000;
while (seen.size < 50 && Date.now() < giveUpAt) await new Promise((r) => setTimeout(r, 5));
await consumer.stop();
const queue = await client.getQueue("node-smoke");
client.close();
console.log(JSON.stringify({ handled: seen.size, left: queue.activeMessages + queue.inflightMessages }));
`;

Deno.test({
  name: "the bundled SDK runs in Node on node:http: produce and consume 50 messages",
  ignore: !nodeAvailable,
  async fn() {
    const directory = await Deno.makeTempDir({ prefix: "cmqd-node-smoke-" });
    const broker = await startTestBroker();
    try {
      const bundle = await new Deno.Command(Deno.execPath(), {
        args: [
          "bundle",
          "--platform=browser",
          "--format=esm",
          "-o",
          `${directory}/sdk.mjs`,
          "sdk/mod.ts",
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(bundle.success, new TextDecoder().decode(bundle.stderr));
      await Deno.writeTextFile(`${directory}/smoke.mjs`, smokeScript);
      const run = await new Deno.Command("node", {
        args: ["smoke.mjs", broker.url],
        cwd: directory,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(run.stderr);
      assert.ok(run.success, stderr);
      assert.deepEqual(JSON.parse(new TextDecoder().decode(run.stdout)), { handled: 50, left: 0 });
    } finally {
      await broker.stop();
      await Deno.remove(directory, { recursive: true });
    }
  },
});
