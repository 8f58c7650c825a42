/**
 * A log directory holding a file of a newer release (hard state, log start, damage record or a
 * segment index in a newer format version) is refused at open with `NewerFormatError`, and
 * nothing in it changes: not treated as damage, not rebuilt or overwritten. The version this
 * release writes keeps working; an older, unknown one (0) is damage as before.
 */
import assert from "node:assert/strict";
import { crc32c } from "./crc32c.ts";
import { CorruptLogError, NewerFormatError } from "./errors.ts";
import { SegmentLog } from "./segment_log.ts";
import { SimFileSystem } from "./sim_file_system.ts";
import { segmentIndexFileName } from "./segment_index_file.ts";
import { readSnapshotFile, verifySnapshotFile, writeSnapshotFile } from "./snapshot_file.ts";
import { refuseNewerFormats } from "./format_check.ts";
import { makeEntries } from "./_test_helpers.ts";

const dir = "/node/log";
const options = { segmentBytesMax: 1500, indexIntervalBytes: 256 };

/** A closed log of 60 entries over several segments (the sealed ones indexed), a hard state. */
async function writtenLog(fs: SimFileSystem): Promise<void> {
  const log = await SegmentLog.open(dir, { fs, ...options });
  const entries = makeEntries(1, 60, { term: 1, timestampOf: (i) => 1_000_000 + i });
  for (let from = 0; from < entries.length; from += 10) {
    await log.appendDurable(entries.slice(from, from + 10));
  }
  await log.writeHardState({ term: 1, vote: "n1", commit: 60 });
  await log.close();
}

/** Every file of the directory and its bytes. */
function contents(fs: SimFileSystem): Map<string, Uint8Array> {
  return new Map(fs.readDir(dir).sort().map((name) => [name, fs.fileBytes(`${dir}/${name}`)]));
}

/** Rewrites `path` through `fs` with `bytes`. */
function rewrite(fs: SimFileSystem, path: string, bytes: Uint8Array): void {
  fs.remove(path);
  const handle = fs.open(path, { create: true });
  handle.writeSync(bytes);
  handle.close();
}

/** Sets the u32 format version of a snapshot-format file and reseals its header CRC. */
function setSnapshotFileVersion(fs: SimFileSystem, path: string, version: number): void {
  const bytes = fs.fileBytes(path).slice();
  const view = new DataView(bytes.buffer);
  view.setUint32(4, version, true);
  view.setUint32(20, crc32c(bytes.subarray(0, 20)), true);
  rewrite(fs, path, bytes);
}

/** Sets the u32 format version of a segment index file and reseals its CRC. */
function setIndexVersion(fs: SimFileSystem, path: string, version: number): void {
  const bytes = fs.fileBytes(path).slice();
  const view = new DataView(bytes.buffer);
  view.setUint32(4, version, true);
  view.setUint32(bytes.length - 4, crc32c(bytes.subarray(0, bytes.length - 4)), true);
  rewrite(fs, path, bytes);
}

async function assertRefusedUntouched(fs: SimFileSystem, file: string): Promise<void> {
  // A leftover temp file stays too: the open removes those only after the check.
  rewrite(fs, `${dir}/hard_state.tmp`, new Uint8Array([1, 2, 3]));
  const before = contents(fs);
  await assert.rejects(() => SegmentLog.open(dir, { fs, ...options }), (error: Error) => {
    assert.ok(error instanceof NewerFormatError, String(error));
    assert.equal(
      error.message,
      `${dir}/${file} has format version 2, newer than this release reads (1): a newer ` +
        "release wrote it; upgrade this node (nothing was changed)",
    );
    return true;
  });
  assert.deepEqual(contents(fs), before, "nothing in the directory changed");
}

for (const file of ["hard_state", "log_start", "damage"]) {
  Deno.test(`a ${file} of a newer format version is refused, the log untouched`, async () => {
    const fs = new SimFileSystem();
    await writtenLog(fs);
    const path = `${dir}/${file}`;
    if (!fs.exists(path)) {
      await writeSnapshotFile(fs, dir, file, new TextEncoder().encode("{}"));
    }
    setSnapshotFileVersion(fs, path, 2);
    await assertRefusedUntouched(fs, file);
  });
}

Deno.test("a segment index of a newer format version is refused, not rebuilt over", async () => {
  const fs = new SimFileSystem();
  await writtenLog(fs);
  const name = segmentIndexFileName(1);
  assert.ok(fs.exists(`${dir}/${name}`), "the first segment is sealed and indexed");
  setIndexVersion(fs, `${dir}/${name}`, 2);
  await assertRefusedUntouched(fs, name);
});

Deno.test("the format versions this release writes open; an unknown older one is damage", async () => {
  const fs = new SimFileSystem();
  await writtenLog(fs);
  const log = await SegmentLog.open(dir, { fs, ...options });
  assert.equal(log.lastIndex, 60);
  assert.equal(log.recovery.indexedSegments! > 0, true, "its own index files are used");
  await log.close();
  // Version 0 was never written: a sound header saying 0 is damage, refused as before.
  setSnapshotFileVersion(fs, `${dir}/hard_state`, 0);
  await assert.rejects(() => SegmentLog.open(dir, { fs, ...options }), CorruptLogError);
  // An index of version 0 is refused as an index: the segment is scanned and indexed again.
  const fresh = new SimFileSystem();
  await writtenLog(fresh);
  setIndexVersion(fresh, `${dir}/${segmentIndexFileName(1)}`, 0);
  const reopened = await SegmentLog.open(dir, { fs: fresh, ...options });
  assert.equal(reopened.lastIndex, 60);
  await reopened.close();
});

Deno.test("a newer snapshot file throws on every read; a flipped version byte is damage", async () => {
  const fs = new SimFileSystem();
  fs.mkdirp("/node/snapshots");
  await writeSnapshotFile(fs, "/node/snapshots", "snapshot-1.bin", new Uint8Array([9, 9]));
  const path = "/node/snapshots/snapshot-1.bin";
  setSnapshotFileVersion(fs, path, 3);
  assert.throws(() => readSnapshotFile(fs, "/node/snapshots", "snapshot-1.bin"), NewerFormatError);
  assert.throws(
    () => verifySnapshotFile(fs, "/node/snapshots", "snapshot-1.bin"),
    NewerFormatError,
  );
  assert.throws(() => refuseNewerFormats(fs, "/node/snapshots"), /format version 3/);
  // Without a sound header CRC the version field is not believed: that file is damaged.
  const flipped = fs.fileBytes(path).slice();
  flipped[4] = 7;
  rewrite(fs, path, flipped);
  assert.equal(readSnapshotFile(fs, "/node/snapshots", "snapshot-1.bin"), null);
  refuseNewerFormats(fs, "/node/snapshots");
  refuseNewerFormats(fs, "/node/missing");
});
