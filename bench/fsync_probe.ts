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
 * `--files growing,zeroed` also times appends that overwrite a file zero-filled ahead (written and
 * fdatasync'ed before the round): each fdatasync then has data to flush but no new file size, so
 * ext4 has no metadata to commit through its journal. cmqd's segments grow (`growing`); `zeroed`
 * is what preallocating them would buy.
 *
 * ```sh
 * deno run -A bench/fsync_probe.ts --gaps 0,1,10 --count 400 --rounds 3 --dir ./data
 * deno run -A bench/fsync_probe.ts --gaps 0,1,10 --files growing,zeroed --dir ./data
 * ```
 *
 * @module
 */
import { option, textOption } from "./cli_options.ts";

const recordBytes = 1100;

export type FileKind = "growing" | "zeroed";

/** Milliseconds of each `syncData` after an append, `gapMs` idle before each append. */
export async function round(
  dir: string,
  gapMs: number,
  count: number,
  kind: FileKind,
): Promise<number[]> {
  const path = `${dir}/fsync-probe-${kind}-${gapMs}.bin`;
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  const record = new Uint8Array(recordBytes).fill(0x61);
  const times: number[] = [];
  try {
    if (kind === "zeroed") {
      const zeros = new Uint8Array(recordBytes * count);
      let offset = 0;
      while (offset < zeros.length) offset += file.writeSync(zeros.subarray(offset));
      await file.sync();
      file.seekSync(0, Deno.SeekMode.Start);
    }
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
  const kinds = textOption("files", "growing").split(",") as FileKind[];
  if (kinds.some((kind) => kind !== "growing" && kind !== "zeroed")) {
    throw new Error("--files is a comma-separated list of growing and zeroed");
  }
  const count = option("count", 400);
  const rounds = option("rounds", 3);
  const given = textOption("dir", "");
  const dir = given === "" ? await Deno.makeTempDir({ prefix: "cmqd-fsync-" }) : given;
  const runs = kinds.flatMap((kind) => gaps.map((gap) => ({ kind, gap })));
  const samples = new Map(runs.map((run) => [run, [] as number[]]));
  try {
    for (let index = 0; index < rounds; index++) {
      for (const run of runs) samples.get(run)!.push(...await round(dir, run.gap, count, run.kind));
    }
  } finally {
    if (given === "") await Deno.remove(dir, { recursive: true });
  }
  console.log("| file | idle before each append | fdatasync p50 ms | p90 | p99 | mean | samples |");
  console.log("|---|---|---|---|---|---|---|");
  for (const [{ kind, gap }, times] of samples) {
    const sorted = times.toSorted((a, b) => a - b);
    const mean = times.reduce((sum, time) => sum + time, 0) / times.length;
    const cells = [0.5, 0.9, 0.99].map((q) => quantile(sorted, q).toFixed(3));
    const row = [kind, `${gap} ms`, ...cells, mean.toFixed(3), times.length];
    console.log(`| ${row.join(" | ")} |`);
  }
}
