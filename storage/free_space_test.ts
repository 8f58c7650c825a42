import assert from "node:assert/strict";
import { freeDiskBytes, freeSpaceAvailable } from "./free_space.ts";

Deno.test("free disk bytes agree with df for the same file system", async () => {
  assert.ok(freeSpaceAvailable(), "tests run with FFI on Linux");
  const dir = await Deno.makeTempDir({ prefix: "cmqd-free-" });
  try {
    const output = await new Deno.Command("df", { args: ["-B1", "--output=avail", dir] }).output();
    const dfBytes = Number(new TextDecoder().decode(output.stdout).trim().split("\n").at(-1));
    const ours = freeDiskBytes(dir);
    // Other processes write meanwhile: agree within 64 MiB.
    assert.ok(Math.abs(ours - dfBytes) < 64 * 2 ** 20, `ours ${ours}, df ${dfBytes}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a missing path is an error, not zero", () => {
  assert.throws(() => freeDiskBytes("/no/such/path/for/cmqd"), /statvfs/);
});
