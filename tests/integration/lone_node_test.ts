/**
 * A node that runs alone (no `--peers`, `--join` or `--force-new-cluster`), on real processes: a
 * cluster-only flag stops the start (exit 2) in one line; cluster-only variables of a shared
 * environment are not read, and the start says so.
 */
import assert from "node:assert/strict";
import { spawnMain, untilExitOrServing } from "./process.ts";

/** Runs `main.ts` until it exits or prints that it serves (then SIGTERM); bounded. */
function runUntilServing(dataDir: string, args: string[], env: Record<string, string>) {
  return untilExitOrServing(spawnMain(dataDir, args, { env }), " serving ", "SIGTERM");
}

Deno.test("a lone node: a cluster-only flag stops the start, a cluster-only variable is left unused", async () => {
  const temp = await Deno.makeTempDir({ prefix: "cmqd-lone-" });
  try {
    // Was read: a key file that is not there stopped a node that never uses a key.
    const shared = { CMQD_CLUSTER_KEY_FILE: `${temp}/missing.key`, CMQD_PEER_TLS: "1" };
    const lone = await runUntilServing(`${temp}/a`, [], shared);
    assert.ok(lone.served, lone.text);
    assert.equal(lone.code, 0, lone.text);
    assert.match(
      lone.text,
      /cmqd n1: CMQD_PEER_TLS, CMQD_CLUSTER_KEY_FILE: not used, this node runs alone \(no --peers, --join or --force-new-cluster\)\n/,
    );
    // Was ignored (--peer-tls) or read for nothing: now refused, before the directory is made.
    for (const flag of [["--peer-tls"], ["--cluster-key-file", `${temp}/missing.key`]]) {
      const refused = await runUntilServing(`${temp}/b`, flag, {});
      assert.ok(!refused.served, refused.text);
      assert.equal(refused.code, 2, refused.text);
      assert.match(
        refused.text,
        new RegExp(`^cmqd: ${flag[0]}: only a cluster member uses it, and without --peers, `),
      );
      await assert.rejects(Deno.stat(`${temp}/b`), Deno.errors.NotFound);
    }
  } finally {
    await Deno.remove(temp, { recursive: true });
  }
});
