/**
 * What one fdatasync of a small append costs on this disk, back to back and after the disk has
 * been left idle for a while: the floor under cmqd's latency at low rates, where every message
 * waits for its own fdatasync after an idle gap rather than sharing one with its neighbours.
 *
 * Each round appends `--count` records of 1,100 bytes (a 1 KB message and its record framing)
 * to a fresh file and times the `syncData` after each append, waiting `gap` ms between one sync
 * and the next write; the gaps of `--gaps` are interleaved round by round. Run it on the disk
 * that holds the data directory (`--dir`, default a temp dir).
 *
 * ```sh
 * deno run -A bench/fsync_probe.ts --gaps 0,1,10 --count 400 --rounds 3 --dir ./data
 * ```
 *
 * @module
 */
import { option, textOption } from "./cli_options.ts";

const recordBytes = 1100;

/** Milliseconds of each `syncData` after an append, `gapMs` idle before each append. */
async function round(dir: string, gapMs: number, count: number): Promise<number[]> {
  const path = `${dir}/fsync-probe-${gapMs}.bin`;
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  const record = new Uint8Array(recordBytes).fill(0x61);
  const times: number[] = [];
  try {
    for (let written = 0; written < count; written++) {
      if (gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
      let offset = 0;
      while (offset < record.length) offset += file.writeSync(record.subarray(offset));
      const started = performance.now();
      await file.syncData();
      times.push(performance.now() - started);
    }
  } finally {
    file.close();
    await Deno.remove(path);
  }
  return times;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];
}

if (import.meta.main) {
  const gaps = textOption("gaps", "0,1,10").split(",").map(Number);
  if (gaps.some((gap) => !Number.isInteger(gap) || gap < 0)) {
    throw new Error("--gaps is a comma-separated list of whole milliseconds ≥ 0");
  }
  const count = option("count", 400);
  const rounds = option("rounds", 3);
  const given = textOption("dir", "");
  const dir = given === "" ? await Deno.makeTempDir({ prefix: "cmqd-fsync-" }) : given;
  const samples = new Map<number, number[]>(gaps.map((gap) => [gap, []]));
  try {
    for (let index = 0; index < rounds; index++) {
      for (const gap of gaps) samples.get(gap)!.push(...await round(dir, gap, count));
    }
  } finally {
    if (given === "") await Deno.remove(dir, { recursive: true });
  }
  console.log("| idle before each append | fdatasync p50 ms | p90 | p99 | mean | samples |");
  console.log("|---|---|---|---|---|---|");
  for (const [gap, times] of samples) {
    const sorted = times.toSorted((a, b) => a - b);
    const mean = times.reduce((sum, time) => sum + time, 0) / times.length;
    const cells = [0.5, 0.9, 0.99].map((q) => quantile(sorted, q).toFixed(3));
    console.log(`| ${gap} ms | ${cells.join(" | ")} | ${mean.toFixed(3)} | ${times.length} |`);
  }
}
