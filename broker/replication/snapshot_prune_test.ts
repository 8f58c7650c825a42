/**
 * Old snapshot files go, and their space is given back off the event loop: each is cut to 0 bytes
 * by `FileHandle.discard`, not freed by an unlink on the event loop.
 */
import assert from "node:assert/strict";
import { joinPath, RealFileSystem } from "../../storage/mod.ts";
import {
  listSnapshots,
  pruneSnapshots,
  snapshotFileName,
  storeSnapshot,
} from "./snapshot_container.ts";

Deno.test("pruneSnapshots removes old snapshot files and cuts them off the event loop", async () => {
  const fs = new RealFileSystem();
  const dir = fs.makeTempDir("cmqd-prune-");
  try {
    const data = new Uint8Array(128 * 1024).fill(3);
    for (const index of [0, 5, 9, 12]) await storeSnapshot(fs, { dir, index, data });
    // A second handle on a file to be pruned shows what happens to its bytes once it is unlinked.
    const watcher = fs.open(joinPath(dir, snapshotFileName(5)));
    await pruneSnapshots(fs, { dir, keepIndex: 12 }, [9]);
    assert.deepEqual(listSnapshots(fs, dir), [12, 9, 0]);
    assert.equal(watcher.readSync(0, new Uint8Array(16)), 0, "the pruned file was cut");
    watcher.close();
    await pruneSnapshots(fs, { dir, keepIndex: 12 });
    assert.deepEqual(listSnapshots(fs, dir), [12, 0]);
  } finally {
    fs.removeTree(dir);
  }
});
