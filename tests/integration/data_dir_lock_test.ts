/**
 * A data directory belongs to one process: a second `main.ts` on the same `--data-dir` refuses
 * to start, names the directory and the holder's PID, and the first keeps serving. A directory
 * holds one node's data: a restart under another `--node-id` refuses to start and names the owner;
 * an id that is not a node id is refused before the directory is made.
 */
import assert from "node:assert/strict";
import { CmqdClient } from "../../sdk/mod.ts";
import { spawnMain, startBroker, untilExitOrServing } from "./process.ts";

/** Waits (bounded) for the child to exit or to print that it serves; a serving child is killed. */
async function exitOrServe(
  child: Deno.ChildProcess,
): Promise<{ code: number | null; text: string }> {
  const { code, text } = await untilExitOrServing(child, "serving", "SIGKILL");
  return { code: text.includes("serving") ? null : code, text };
}

Deno.test("a second process on the same data directory refuses to start and names the holder", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "cmqd-lock-" });
  const first = await startBroker({ dataDir });
  try {
    const second = spawnMain(dataDir);
    const { code, text } = await exitOrServe(second);
    assert.notEqual(code, null, `the second process started serving:\n${text}`);
    assert.equal(code, 1, text);
    assert.match(
      text,
      new RegExp(
        `data directory ${dataDir} is in use by another cmqd process \\(pid ${first.pid}\\)`,
      ),
    );
    // The holder is untouched.
    const client = new CmqdClient({ baseUrl: first.url });
    await client.createQueue("still-mine");
    await client.sendMessages("still-mine", [{ body: "x" }]);
  } finally {
    await first.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("the lock is released when the holder exits, so a restart takes it again", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "cmqd-lock-" });
  try {
    const first = await startBroker({ dataDir });
    await first.kill();
    const second = await startBroker({ dataDir });
    assert.equal(await second.stop(), 0);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("a node started under another --node-id on a data directory refuses to start and names its owner", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "cmqd-owner-" });
  try {
    const first = await exitOrServe(spawnMain(dataDir, ["--node-id", "n2"]));
    assert.equal(first.code, null, `n2 did not start:\n${first.text}`);
    const other = await exitOrServe(spawnMain(dataDir, ["--node-id", "n9"]));
    assert.notEqual(other.code, null, `n9 started serving on n2's data:\n${other.text}`);
    assert.equal(other.code, 1, other.text);
    assert.match(
      other.text,
      /holds the data of node 'n2'.*not of 'n9'; start it with --node-id n2/,
    );
    const again = await exitOrServe(spawnMain(dataDir, ["--node-id", "n2"]));
    assert.equal(again.code, null, `n2 did not start again:\n${again.text}`);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("a --node-id that is not a node id stops the start (exit 2) before the data directory is made", async () => {
  const parent = await Deno.makeTempDir({ prefix: "cmqd-bad-id-" });
  const dataDir = `${parent}/data`;
  try {
    const { code, text } = await exitOrServe(spawnMain(dataDir, ["--node-id", "n 1"]));
    assert.equal(code, 2, text);
    assert.match(text, /--node-id: a node id is a letter, then letters, digits/);
    await assert.rejects(Deno.stat(dataDir), Deno.errors.NotFound);
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("a --data-dir that is a file, or under one, stops the start (exit 2) in one line naming it", async () => {
  const parent = await Deno.makeTempDir({ prefix: "cmqd-dir-file-" });
  const file = `${parent}/file`;
  try {
    await Deno.writeTextFile(file, "not a directory\n");
    // Was an uncaught NotADirectory with its stack, exit 1 (the status of a lock held elsewhere).
    for (const dataDir of [file, `${file}/data`]) {
      const { code, text } = await exitOrServe(spawnMain(dataDir));
      assert.equal(code, 2, text);
      assert.match(
        text,
        new RegExp(`^cmqd: --data-dir: data directory ${dataDir} can't be used: `),
      );
      assert.doesNotMatch(text, /Uncaught|\n\s+at /, text);
      assert.equal(await Deno.readTextFile(file), "not a directory\n");
    }
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("a node-id in the data directory that can't be read (a directory) stops the start (exit 2) in one line naming --data-dir", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "cmqd-node-id-dir-" });
  try {
    await Deno.mkdir(`${dataDir}/node-id`);
    // Was an uncaught IsADirectory with its stack, exit 1 (the status of a lock held elsewhere).
    const { code, text } = await exitOrServe(spawnMain(dataDir));
    assert.equal(code, 2, text);
    assert.match(
      text,
      new RegExp(
        `^cmqd: --data-dir: data directory ${dataDir} can't be used: ${dataDir}/node-id: `,
      ),
    );
    assert.doesNotMatch(text, /Uncaught|\n\s+at /, text);
    assert.ok((await Deno.stat(`${dataDir}/node-id`)).isDirectory);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
