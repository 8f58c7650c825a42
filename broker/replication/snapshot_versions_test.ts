/**
 * A snapshot container of a newer version (or one holding a newer machine image) is a newer
 * release's, refused with `NewerFormatError`, never skipped as damaged (skipping it could start
 * the node over from an older snapshot, or from nothing). Version 0 stays damage.
 */
import assert from "node:assert/strict";
import { NewerFormatError, SimFileSystem } from "../../storage/mod.ts";
import type { NodeId } from "../../raft/mod.ts";
import {
  decodeSnapshotContainer,
  encodeSnapshotContainer,
  loadNewestSnapshot,
  refuseNewerSnapshots,
  SnapshotDecodeError,
  storeSnapshot,
} from "./snapshot_container.ts";

const dir = "/node/snapshots";
const container = {
  index: 5,
  term: 1,
  config: { voters: ["n1" as NodeId], learners: [] },
  lowestReferencedIndex: 3,
  machine: new Uint8Array([0x43, 0x4d, 0x51, 0x53, 2, 0, 0]),
  entries: [],
};

function withVersion(version: number): Uint8Array {
  const bytes = encodeSnapshotContainer(container);
  bytes[4] = version;
  return bytes;
}

Deno.test("a container of a newer version is refused, one of version 0 is damage", async () => {
  assert.equal(withVersion(1)[4], 1, "this release writes container version 1");
  assert.throws(() => decodeSnapshotContainer(withVersion(2)), NewerFormatError);
  assert.throws(() => decodeSnapshotContainer(withVersion(0)), SnapshotDecodeError);
  const fs = new SimFileSystem();
  fs.mkdirp(dir);
  await storeSnapshot(fs, { dir, index: 5, data: withVersion(2) });
  assert.throws(() => loadNewestSnapshot(fs, { dir }), NewerFormatError, "not skipped as damaged");
  assert.throws(
    () => refuseNewerSnapshots(fs, dir, () => {}),
    /snapshot-00000000000000000005\.bin: snapshot container has format version 2/,
  );
});

Deno.test("refuseNewerSnapshots hands every machine image to its check, and skips damage", async () => {
  const fs = new SimFileSystem();
  fs.mkdirp(dir);
  await storeSnapshot(fs, { dir, index: 5, data: withVersion(1) });
  await storeSnapshot(fs, { dir, index: 6, data: withVersion(0) });
  const seen: Uint8Array[] = [];
  refuseNewerSnapshots(fs, dir, (machine) => seen.push(machine));
  assert.deepEqual(seen, [container.machine]);
  assert.throws(() =>
    refuseNewerSnapshots(fs, dir, () => {
      throw new Error("a newer machine image");
    }), /a newer machine image/);
  refuseNewerSnapshots(fs, "/node/none", () => assert.fail("no directory, no snapshot"));
});
