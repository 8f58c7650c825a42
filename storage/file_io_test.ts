import assert from "node:assert/strict";
import { RealFileSystem } from "./file_io.ts";

Deno.test("a directory sync that can't open its directory fails instead of passing for done", async () => {
  const real = new RealFileSystem();
  const root = real.makeTempDir("cmqd-sync-dir-");
  try {
    await real.syncDir(root);
    real.syncDirSync(root);
    await assert.rejects(real.syncDir(`${root}/gone`), Deno.errors.NotFound);
    assert.throws(() => real.syncDirSync(`${root}/gone`), Deno.errors.NotFound);
  } finally {
    real.removeTree(root);
  }
});
