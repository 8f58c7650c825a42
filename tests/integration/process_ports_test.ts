/**
 * The test helpers' port reservations (`process.ts`): a port one process claimed is not handed to
 * another while the first lives, and the claim of a process that is gone is taken over.
 */
import assert from "node:assert/strict";
import { freePort, reserve } from "./process.ts";

const helpers = new URL("./process.ts", import.meta.url).href;

/** `reserve(port)` as answered in a fresh Deno process (another PID). */
async function reserveElsewhere(port: number): Promise<boolean> {
  const script = `const { reserve } = await import(${JSON.stringify(helpers)});` +
    `console.log(reserve(${port}));`;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(output.success);
  return new TextDecoder().decode(output.stdout).trim() === "true";
}

Deno.test("a port handed out here is not reserved by another process while this one lives", async () => {
  const port = freePort();
  assert.equal(await reserveElsewhere(port), false);
  assert.equal(reserve(port), false, "nor twice here");
});

Deno.test("the reservation of a process that is gone is taken over", async () => {
  const port = freePort();
  // Claimed by a process that ends right after: its claim is stale, the next claimant wins.
  const gone = await new Deno.Command(Deno.execPath(), { args: ["eval", ""] }).spawn();
  await gone.status;
  const dir = `${Deno.env.get("TMPDIR") ?? "/tmp"}/cmqd-test-ports`;
  Deno.writeTextFileSync(`${dir}/${port}`, String(gone.pid));
  assert.equal(await reserveElsewhere(port), true);
  assert.equal(await reserveElsewhere(port), true, "each of those processes ended too");
});
