import assert from "node:assert/strict";
import { inspectSnapshotFile, readSnapshotFile, writeSnapshotFile } from "./snapshot_file.ts";
import { seededRandom, SimFileSystem, SimulatedIoError } from "./sim_file_system.ts";

Deno.test("a snapshot file reads back what was written", async () => {
  const fs = new SimFileSystem();
  fs.mkdirp("/s");
  const bytes = new Uint8Array(10_000).map((_, i) => i * 7);
  await writeSnapshotFile(fs, "/s", "state", bytes);
  assert.deepEqual(readSnapshotFile(fs, "/s", "state"), bytes);
  await writeSnapshotFile(fs, "/s", "state", new Uint8Array(0));
  assert.deepEqual(readSnapshotFile(fs, "/s", "state"), new Uint8Array(0));
  assert.equal(readSnapshotFile(fs, "/s", "missing"), null);
});

Deno.test("a crash during a snapshot write leaves the old snapshot or the new, never a mix", async () => {
  const old = new Uint8Array(300).fill(1);
  const next = new Uint8Array(500).fill(2);
  for (let crashAt = 0; crashAt < 8; crashAt++) {
    const fs = new SimFileSystem();
    fs.mkdirp("/s");
    await writeSnapshotFile(fs, "/s", "state", old);
    fs.crashAfter(crashAt);
    const finished = await writeSnapshotFile(fs, "/s", "state", next).then(() => true, () => false);
    fs.crash({ random: seededRandom(crashAt), tornWrites: true });
    const found = readSnapshotFile(fs, "/s", "state");
    assert.ok(found !== null, `crash at ${crashAt}: snapshot lost`);
    if (finished) assert.deepEqual(found, next);
    else assert.ok(found.length === old.length || found.length === next.length);
  }
});

Deno.test("a torn or damaged snapshot is reported as corrupt, never returned", async () => {
  const fs = new SimFileSystem();
  fs.mkdirp("/s");
  await writeSnapshotFile(fs, "/s", "state", new Uint8Array(64).fill(3));
  fs.flipBit("/s/state", 40);
  assert.deepEqual(inspectSnapshotFile(fs, "/s", "state"), {
    status: "corrupt",
    reason: "bad payload crc",
  });
  assert.equal(readSnapshotFile(fs, "/s", "state"), null);
  fs.appendRaw("/s/state", new Uint8Array([1]));
  assert.equal(inspectSnapshotFile(fs, "/s", "state").status, "corrupt");
});

Deno.test("a snapshot write that fails leaves no temp file taking space, and the old file", async () => {
  const fs = new SimFileSystem();
  fs.mkdirp("/s");
  await writeSnapshotFile(fs, "/s", "state", new Uint8Array(100).fill(1));
  fs.failSyncs(1); // an fsync's EIO; a full disk's ENOSPC fails the write before it alike
  await assert.rejects(
    writeSnapshotFile(fs, "/s", "state", new Uint8Array(4096).fill(2)),
    SimulatedIoError,
  );
  assert.deepEqual(fs.readDir("/s"), ["state"]);
  assert.deepEqual(readSnapshotFile(fs, "/s", "state"), new Uint8Array(100).fill(1));
});
