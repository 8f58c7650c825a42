/**
 * `deno bench` of the storage hot paths: crc32c, the record codec, and a group-committed append
 * of one API batch (16 × 1 KB) to a real segment log in a temp dir.
 *
 * @module
 */

import {
  crc32c,
  decodeRecord,
  encodeRecord,
  type LogEntry,
  RealFileSystem,
  SegmentLog,
} from "../storage/mod.ts";

function filled(bytes: number): Uint8Array {
  const data = new Uint8Array(bytes);
  for (let index = 0; index < bytes; index++) data[index] = (index * 31 + 7) & 0xff;
  return data;
}

const kilobyte = filled(1024);
const sixtyFourKilobytes = filled(64 * 1024);
const sixteenKilobytes = filled(16 * 1024);

Deno.bench("crc32c 1 KB", { group: "crc32c", baseline: true }, () => {
  crc32c(kilobyte);
});

Deno.bench("crc32c 64 KB", { group: "crc32c" }, () => {
  crc32c(sixtyFourKilobytes);
});

function entry(payload: Uint8Array): LogEntry {
  return { term: 3, index: 1_000_000, timestamp: Date.now(), type: 1, payload };
}

const encodedKilobyte = encodeRecord(entry(kilobyte));
const encodedSixteen = encodeRecord(entry(sixteenKilobytes));

Deno.bench("encode record, 1 KB payload", { group: "record" }, () => {
  encodeRecord(entry(kilobyte));
});

Deno.bench("decode record, 1 KB payload", { group: "record" }, () => {
  decodeRecord(encodedKilobyte);
});

Deno.bench("encode record, 16 KB payload", { group: "record" }, () => {
  encodeRecord(entry(sixteenKilobytes));
});

Deno.bench("decode record, 16 KB payload", { group: "record" }, () => {
  decodeRecord(encodedSixteen);
});

const logDir = await Deno.makeTempDir({ prefix: "cmqd-bench-log-" });
const log = await SegmentLog.open(logDir, { fs: new RealFileSystem() });
const term = 1;

Deno.bench("segment log append + sync, 16 × 1 KB", { group: "segment log" }, async () => {
  const first = log.lastIndex + 1;
  const entries: LogEntry[] = [];
  for (let offset = 0; offset < 16; offset++) {
    entries.push({
      term,
      index: first + offset,
      timestamp: Date.now(),
      type: 1,
      payload: kilobyte,
    });
  }
  await log.appendDurable(entries);
});

// Deno has no after-all hook for benches: clean up when the process unloads.
globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(logDir, { recursive: true });
  } catch {
    // the log may still hold the directory open on some systems; the temp dir goes anyway
  }
});
