/**
 * A one-node log over several small segments, for the tests that damage a sealed segment (a bit
 * flipped, a sector that can't be read) and restart the node on it with the scrubber running.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  type FileSystem,
  inspectRecord,
  newRecordHeader,
  SimFileSystem,
} from "../../../storage/mod.ts";
import { noPeers, startNode } from "../node.ts";
import { realTimers } from "../real_time.ts";
import { until } from "./one_node.ts";

/** Where the node's segments are. */
export const logDir = "/d/log";

/** Options of the node n1 on `fs`: 4 KiB segments, a 5 ms tick, the scrubber at a rate. */
export function scrubNodeOptions(
  fs: FileSystem,
  scrubBytesPerSecond: number,
  snapshotEntriesInterval = 10,
) {
  return {
    nodeId: "n1",
    dataDir: "/d",
    fs,
    clock: { now: () => 1_700_000_000_000 },
    timers: realTimers,
    transport: noPeers(),
    initialVoters: ["n1"],
    url: "http://127.0.0.1:1",
    tickMs: 5,
    segmentBytesMax: 4096,
    scrubBytesPerSecond,
    snapshotEntriesInterval,
    report: () => {},
  };
}

/** The first sealed segment with at least two records, and where its second record starts. */
export function sealedSegmentWithTwoRecords(
  sim: SimFileSystem,
): { path: string; index: number; offset: number } {
  const names = sim.readDir(logDir).filter((name) => name.endsWith(".log")).sort();
  for (const name of names.slice(0, -1)) {
    const bytes = sim.fileBytes(`${logDir}/${name}`);
    const header = newRecordHeader();
    assert.equal(inspectRecord(bytes, 0, { header, verify: true }), "ok");
    const offset = header.bytes;
    if (offset < bytes.length && inspectRecord(bytes, offset, { header, verify: true }) === "ok") {
      return { path: `${logDir}/${name}`, index: header.index, offset };
    }
  }
  throw new Error("no sealed segment with two records");
}

/** Leaves on `fs` a closed node whose log holds 40 sends of 600 bytes over several segments. */
export async function fillLog(fs: FileSystem, snapshotEntriesInterval: number): Promise<void> {
  const first = await startNode(scrubNodeOptions(fs, 0, snapshotEntriesInterval));
  await until(() => first.replica.isLeader, "a leader");
  await first.broker.createQueue("jobs", {});
  for (let i = 0; i < 40; i++) {
    await first.broker.sendMessages("jobs", [{ body: `message ${i} `.padEnd(600, "x") }]);
  }
  await first.close();
}
