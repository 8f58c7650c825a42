/**
 * Test-only fixtures of the replication room's log tests: readers of a simulated node's Raft log
 * files (the `TestCluster` nodes keep their log in `/data/log` of their `SimFileSystem`), and a
 * segment log filled with entries.
 *
 * @module
 */
import { inspectRecord, newRecordHeader } from "../../storage/record.ts";
import { SegmentLog, type SimFileSystem } from "../../storage/mod.ts";

export const logDir = "/data/log";

/** Index and offset of every record in the node's newest segment. */
export function lastSegmentRecords(fs: SimFileSystem): { path: string; records: number[][] } {
  const name = fs.readDir(logDir).filter((entry) => entry.endsWith(".log")).sort().at(-1)!;
  const path = `${logDir}/${name}`;
  const bytes = fs.fileBytes(path);
  const header = newRecordHeader();
  const records: number[][] = [];
  for (let offset = 0; inspectRecord(bytes, offset, { header, verify: true }) === "ok";) {
    records.push([header.index, offset]);
    offset += header.bytes;
  }
  return { path, records };
}

/** The commit index recorded in the node's `hard_state` file. */
export function persistedCommit(fs: SimFileSystem): number {
  const json = new TextDecoder().decode(fs.fileBytes(`${logDir}/hard_state`).subarray(24));
  return JSON.parse(json).commit;
}

/** Log entry `index` of term 1, with a 100-byte payload. */
export function termOneEntry(index: number) {
  return { term: 1, index, timestamp: 10, type: 0, payload: new Uint8Array(100) };
}

/** A segment log in `dir` of `fs` holding entries 1..30 (`termOneEntry`) in 600-byte segments. */
export async function thirtyEntryLog(fs: SimFileSystem, dir: string): Promise<SegmentLog> {
  const log = await SegmentLog.open(dir, { fs, segmentBytesMax: 600 });
  await log.appendDurable(Array.from({ length: 30 }, (_, i) => termOneEntry(i + 1)));
  return log;
}
