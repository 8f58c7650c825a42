import assert from "node:assert/strict";
import { RealFileSystem } from "./file_io.ts";
import { claimDataDir, lockDataDir } from "./dir_lock.ts";
import { ForwardingFileSystem } from "./forwarding_file_system.ts";

/** Records the directories synced. */
class SyncedDirectories extends ForwardingFileSystem {
  readonly synced: string[] = [];

  override syncDir(path: string): Promise<void> {
    this.synced.push(path);
    return super.syncDir(path);
  }

  override syncDirSync(path: string): void {
    this.synced.push(path);
    super.syncDirSync(path);
  }
}

Deno.test("a new data directory and its node-id claim are synced, so a power cut can't undo them", async () => {
  const real = new RealFileSystem();
  const root = real.makeTempDir("cmqd-dir-lock-");
  try {
    const fs = new SyncedDirectories(real);
    const dataDir = `${root}/node/data`;
    const lock = await lockDataDir(dataDir, fs);
    assert.deepEqual(fs.synced, [root, `${root}/node`], "each new directory, in its parent");
    fs.synced.length = 0;
    await claimDataDir(dataDir, "n1", fs);
    assert.deepEqual(fs.synced, [dataDir], "the node-id file's rename");
    assert.equal(Deno.readTextFileSync(`${dataDir}/node-id`), "n1\n");
    fs.synced.length = 0;
    await claimDataDir(dataDir, "n1", fs);
    assert.deepEqual(fs.synced, [], "an existing claim writes nothing");
    lock.release();
  } finally {
    real.removeTree(root);
  }
});
