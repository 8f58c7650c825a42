import assert from "node:assert/strict";
import { round } from "./fsync_probe.ts";

Deno.test("the fsync probe times every append, growing or over zeros, and leaves no file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cmqd-fsync-test-" });
  try {
    for (const kind of ["growing", "zeroed"] as const) {
      const times = await round(dir, 0, 5, kind);
      assert.equal(times.length, 5);
      assert.ok(times.every((time) => time >= 0));
    }
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
