/**
 * A real process on data a newer release wrote stops, says why in one line and exits 78,
 * changing nothing: an entry of a command type it does not know (committed before the restart,
 * or only committed after it), a snapshot file of a newer format version. Restarting it stops at
 * the same place again. `--version` names the release and the format versions.
 */
import assert from "node:assert/strict";
import { CmqdClient } from "../../sdk/mod.ts";
import { crc32c, RealFileSystem, SegmentLog } from "../../storage/mod.ts";
import { spawnMain, startBroker } from "./process.ts";

/** Runs main.ts on `dataDir` until it exits (bounded); its status and output. */
async function runUntilExit(dataDir: string, extra: string[] = []) {
  const child = spawnMain(dataDir, extra);
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const output = await child.output();
  clearTimeout(timer);
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  return { code: output.code, text };
}

/** Every file under `dir` (but the lock) with its bytes. */
async function contents(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const sub of ["log", "snapshots"]) {
    for await (const entry of Deno.readDir(`${dir}/${sub}`)) {
      const bytes = await Deno.readFile(`${dir}/${sub}/${entry.name}`);
      files.set(`${sub}/${entry.name}`, String(crc32c(bytes)) + ":" + bytes.length);
    }
  }
  return files;
}

/** A stopped one-node broker's data dir holding a queue and a message. */
async function dataOfAStoppedBroker(): Promise<string> {
  const dataDir = await Deno.makeTempDir({ prefix: "cmqd-newer-" });
  const broker = await startBroker({ dataDir });
  try {
    const client = new CmqdClient({ baseUrl: broker.url });
    await client.createQueue("jobs");
    await client.sendMessages("jobs", [{ body: "before the upgrade" }]);
  } finally {
    assert.equal(await broker.stop(), 0);
  }
  return dataDir;
}

/** Appends an entry of command type 49 (unknown here) as a newer leader would have; its index. */
async function appendNewerEntry(dataDir: string, commit: boolean): Promise<number> {
  const log = await SegmentLog.open(`${dataDir}/log`, { fs: new RealFileSystem() });
  const index = log.lastIndex + 1;
  await log.appendDurable([{
    term: log.lastTerm,
    index,
    timestamp: Date.now(),
    type: 49,
    payload: new Uint8Array([1, 2, 3]),
  }]);
  const hard = log.readHardState();
  if (commit) await log.writeHardState({ ...hard, commit: index });
  await log.close();
  return index;
}

for (const committed of [true, false]) {
  const when = committed ? "committed before the restart" : "committed after the restart";
  Deno.test(`an entry of an unknown command type (${when}) stops the node with status 78`, async () => {
    const dataDir = await dataOfAStoppedBroker();
    try {
      const index = await appendNewerEntry(dataDir, committed);
      const line = `log entry ${index} has command type 49, which this release (cmqd ` +
        `${(await runUntilExit(dataDir, ["--version"])).text.split(" ")[1]}) does not know: a ` +
        "newer release wrote it; upgrade this node";
      const before = await contents(dataDir);
      for (let attempt = 0; attempt < 2; attempt++) {
        const { code, text } = await runUntilExit(dataDir);
        assert.equal(code, 78, text);
        assert.ok(text.includes(`cmqd n1: FATAL: ${line}; exiting with status 78`), text);
        assert.doesNotMatch(text, /storage failed/);
        // An expected, documented stop: clean lines, no stack trace (nor the error's class).
        assert.doesNotMatch(text, /^\s+at /m, text);
        assert.doesNotMatch(text, /NewerReleaseError/, text);
        if (committed) assert.deepEqual(await contents(dataDir), before, "nothing changed");
      }
    } finally {
      await Deno.remove(dataDir, { recursive: true });
    }
  });
}

Deno.test("a snapshot file of a newer format version is refused at start, touching nothing", async () => {
  const dataDir = await dataOfAStoppedBroker();
  try {
    const snapshots = [...Deno.readDirSync(`${dataDir}/snapshots`)].map((entry) => entry.name);
    const newest = snapshots.sort().at(-1)!;
    const path = `${dataDir}/snapshots/${newest}`;
    const bytes = await Deno.readFile(path);
    const view = new DataView(bytes.buffer);
    view.setUint32(4, 2, true); // the file format version, header CRC resealed
    view.setUint32(20, crc32c(bytes.subarray(0, 20)), true);
    await Deno.writeFile(path, bytes);
    const before = await contents(dataDir);
    const { code, text } = await runUntilExit(dataDir);
    assert.equal(code, 78, text);
    assert.match(
      text,
      new RegExp(`FATAL: ${path} has format version 2, newer than this release reads \\(1\\)`),
    );
    assert.match(text, /upgrade this node; this release is cmqd [^ ]+ \(nothing was changed\)/);
    assert.deepEqual(await contents(dataDir), before, "nothing changed");
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("--version prints the release and the format versions, and starts nothing", async () => {
  const dataDir = `${await Deno.makeTempDir({ prefix: "cmqd-version-" })}/never-made`;
  try {
    const { code, text } = await runUntilExit(dataDir, ["--version"]);
    assert.equal(code, 0, text);
    assert.match(
      text,
      /^cmqd \d+\.\d+\.\d+ \(log record 1, log entry commands 1-5, snapshot file 1, snapshot container 1, state snapshot 4, segment index 1, peer protocol 2\)\n$/,
    );
    assert.equal(await Deno.stat(dataDir).catch(() => null), null, "no data dir made");
  } finally {
    await Deno.remove(dataDir.replace(/\/never-made$/, ""), { recursive: true });
  }
});
