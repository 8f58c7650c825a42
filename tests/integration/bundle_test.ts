/**
 * `deno task build` (the minified bundle `deno task compile` turns into a binary) is a working
 * broker: built exactly as the task says, into a temp dir, then run on a real data directory —
 * bad input answered with its precise error, messages sent, a lock taken, `kill -9`, restarted,
 * and every acknowledged message and lock still there with its body intact.
 */
import assert from "node:assert/strict";
import { CmqdClient, CmqdError } from "../../sdk/mod.ts";
import { type BrokerProcess, startBroker } from "./process.ts";

const root = new URL("../../", import.meta.url).pathname;
const taskOutput = "dist/cmqd.js";

/** The `build` task's arguments, with its output redirected to `output`. */
async function buildArgs(output: string): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(`${root}deno.json`));
  const task: string = config.tasks.build;
  const words = task.split(/\s+/);
  assert.deepEqual(words.slice(0, 2), ["deno", "bundle"], `build task: ${task}`);
  assert.ok(words.includes(taskOutput), `the build task writes ${taskOutput}: ${task}`);
  return words.slice(1).map((word) => word === taskOutput ? output : word);
}

Deno.test("the built bundle serves, recovers from kill -9 and keeps messages and locks", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cmqd-bundle-" });
  const bundle = `${dir}/cmqd.js`;
  let broker: BrokerProcess | null = null;
  try {
    const built = await new Deno.Command(Deno.execPath(), {
      args: await buildArgs(bundle),
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(built.code, 0, new TextDecoder().decode(built.stderr));
    const text = await Deno.readTextFile(bundle);
    // Stack traces map back through the map beside it; the runtime never loads it.
    assert.ok((await Deno.stat(`${bundle}.map`)).size > 0);
    assert.ok(!text.includes("sourceMappingURL"), "the bundle points at no source map");

    const dataDir = `${dir}/data`;
    broker = await startBroker({ dataDir, program: bundle });
    let client = new CmqdClient({ baseUrl: broker.url, retry: { attemptsMax: 1 } });
    await assert.rejects(
      client.sendMessages("no-such-queue", [{ body: "x" }]),
      (error) => error instanceof CmqdError && error.code === "QueueNotFound",
    );
    await client.createQueue("jobs", { visibilityTimeoutSeconds: 60 });
    const bodies = Array.from({ length: 20 }, (_, i) => `m${i} "quoted" \\ é — ${"z".repeat(i)}`);
    await client.sendMessages("jobs", bodies.map((body) => ({ body })));
    const locked = await client.receiveMessages("jobs", {
      maxMessages: 5,
      visibilityTimeoutSeconds: 3600,
    });
    assert.equal(locked.messages.length, 5);

    await broker.kill();
    broker = await startBroker({ dataDir, program: bundle });
    client = new CmqdClient({ baseUrl: broker.url, retry: { attemptsMax: 1 } });
    const rest = await client.receiveMessages("jobs", {
      maxMessages: 32,
      visibilityTimeoutSeconds: 3600,
    });
    const lockedBodies = locked.messages.map((message) => message.body);
    const restBodies = rest.messages.map((message) => message.body);
    assert.equal(restBodies.length, 15, "the 5 locked messages stay locked across the restart");
    assert.deepEqual([...lockedBodies, ...restBodies].sort(), [...bodies].sort());
    assert.equal(await broker.stop(), 0);
    broker = null;
  } finally {
    await broker?.kill();
    await Deno.remove(dir, { recursive: true });
  }
});
