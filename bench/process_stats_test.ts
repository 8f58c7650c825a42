import assert from "node:assert/strict";
import { parseConfig } from "../broker/mod.ts";
import {
  cpuSeconds,
  freePort,
  loneNodeArgs,
  rssBreakdownFromProc,
  rssFromMetricsText,
  rssFromProc,
  waitReady,
} from "./process_stats.ts";

Deno.test("the resident memory is read from a Prometheus page", () => {
  const page = "# HELP x\nprocess_cpu_seconds_total 3\nprocess_resident_memory_bytes 4.5e7\n";
  assert.equal(rssFromMetricsText(page), 45_000_000);
  assert.equal(rssFromMetricsText('process_resident_memory_bytes{node="a"} 12\n'), 12);
  assert.equal(rssFromMetricsText("nothing here\n"), null);
});

Deno.test("this process's CPU time and RSS are readable from /proc", () => {
  assert.ok((cpuSeconds("self") ?? -1) >= 0);
  assert.ok((rssFromProc(Deno.pid) ?? 0) > 1_000_000);
  assert.equal(rssFromProc(0x7ffffffe), null);
});

Deno.test("this process's RSS splits into anonymous and file-backed pages", () => {
  const breakdown = rssBreakdownFromProc(Deno.pid)!;
  assert.ok(breakdown.rssAnonBytes > 1_000_000);
  assert.ok(breakdown.rssAnonBytes + breakdown.rssFileBytes <= breakdown.rssBytes + 4096 * 1024);
  assert.equal(rssBreakdownFromProc(0x7ffffffe), null);
});

Deno.test("waiting for a server that exits while starting ends with its status, not the timeout", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "Deno.exit(3)"],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const port = freePort(); // nothing listens there
  await assert.rejects(
    waitReady(`http://127.0.0.1:${port}`, 60_000, { process: child }), // resolves null without it
    /exited with status 3 before it was ready/,
  );
});

Deno.test("a bench's lone broker gets flags a lone node accepts", () => {
  const config = parseConfig(loneNodeArgs(4321, "/tmp/bench-data"), {});
  assert.equal(config.port, 4321);
  assert.equal(config.dataDir, "/tmp/bench-data");
  assert.equal(config.minFreeDiskMb, 0);
});
