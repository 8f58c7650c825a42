/**
 * Memory per remembered nonce: the previous Map-based replay cache against `NonceCache`, each
 * filled with 1,000,000 pairs (32-character nonces of one secretId, 5,000 to 25,000 per second
 * of signed time, all within 200 s so that nothing expires). Each case runs in a process of its
 * own and reads `Deno.memoryUsage()` before and after the fill, after a full collection: the
 * heap, and the resident set (which counts the tables' array buffers):
 *
 * ```sh
 * deno run -A --v8-flags=--expose-gc bench/nonce_cache_memory.ts
 * ```
 *
 * @module
 */
import { NonceCache } from "../broker/auth/mod.ts";
import { MapNonceCache } from "./_map_nonce_cache.ts";

const startMs = 1_700_000_000_000;
const entries = 1_000_000;
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");

function usage(): { heap: number; rss: number } {
  gc!();
  const { heapUsed, external, rss } = Deno.memoryUsage();
  return { heap: heapUsed + external, rss };
}

function measure(name: string, fill: () => { size: number }): void {
  const before = usage();
  const cache = fill();
  const after = usage();
  if (cache.size !== entries) throw new Error(`${name}: ${cache.size} entries`);
  const perEntry = (bytes: number) => (bytes / entries).toFixed(1);
  console.log(
    `${name}: ${perEntry(after.rss - before.rss)} bytes per entry resident, ` +
      `${perEntry(after.heap - before.heap)} on the heap and external`,
  );
}

function nonceOf(index: number): string {
  return index.toString(16).padStart(32, "0");
}

function fillMap(): { size: number } {
  const cache = new MapNonceCache(entries);
  for (let index = 0; index < entries; index++) {
    const verdict = cache.remember("AKIDworker0001", nonceOf(index), startMs + index / 5);
    if (verdict !== "fresh") throw new Error(verdict);
  }
  return cache;
}

function fillBuckets(perSecond: number): { size: number } {
  const cache = new NonceCache();
  for (let index = 0; index < entries; index++) {
    const nowMs = startMs + Math.floor((index * 1000) / perSecond);
    const timestampSeconds = Math.floor(nowMs / 1000);
    const verdict = cache.remember("AKIDworker0001", nonceOf(index), timestampSeconds, nowMs);
    if (verdict !== "fresh") throw new Error(verdict);
  }
  return cache;
}

// A second's table has 8,192 slots for 5,000 pairs, 32,768 for 16,000 and 65,536 for 25,000.
const cases = ["map", "5000", "16000", "25000"];
const chosen = Deno.args[0];
if (chosen === undefined) {
  for (const name of cases) {
    const { success } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--v8-flags=--expose-gc", import.meta.filename!, name],
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (!success) Deno.exit(1);
  }
} else if (chosen === "map") {
  measure("Map cache (before), 5,000/s", fillMap);
} else if (cases.includes(chosen)) {
  const perSecond = Number(chosen);
  measure(`NonceCache, ${perSecond.toLocaleString("en")}/s`, () => fillBuckets(perSecond));
} else {
  throw new Error(`unknown case ${chosen} (${cases.join(", ")})`);
}
