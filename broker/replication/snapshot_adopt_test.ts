import assert from "node:assert/strict";
import { SegmentLog, SimFileSystem } from "../../storage/mod.ts";
import { adoptSnapshot, type PreparedSnapshot, type SnapshotParts } from "./snapshot_io.ts";
import type { RaftLogStorage } from "./log_storage.ts";

/**
 * The snapshot writer adopts a snapshot from its Ready loop and hears of a failure through the
 * promise (`removal.catch`, then its `onError`): a log that failed meanwhile must answer there,
 * not with a throw out of `adoptSnapshot` into the loop.
 */
Deno.test("adopting a snapshot on a failed log answers with a rejected promise, not a throw", async () => {
  const fs = new SimFileSystem();
  fs.mkdirp("/data/snapshots");
  const log = await SegmentLog.open("/data/log", { fs, segmentBytesMax: 600 });
  const entry = (index: number) => ({
    term: 1,
    index,
    timestamp: 10,
    type: 0,
    payload: new Uint8Array(100),
  });
  await log.appendDurable(Array.from({ length: 30 }, (_, i) => entry(i + 1)));
  fs.failNext("write");
  assert.throws(() => log.append([entry(31)]));
  const storage = {
    snapshotMeta: { index: 0 },
    setSnapshot: () => {},
    retention: () => ({ snapshotIndexes: [], logFrom: Infinity }),
  } as unknown as RaftLogStorage;
  const parts = { log, storage, fs, snapshotsDir: "/data/snapshots", snapshotsInFlight: () => [] };
  const prepared = { index: 20, term: 1, lowestReferencedIndex: 21 } as PreparedSnapshot;
  let adopted: Promise<void> | undefined;
  assert.doesNotThrow(() => adopted = adoptSnapshot(parts as unknown as SnapshotParts, prepared));
  await assert.rejects(adopted!, /input\/output|EIO/i);
  await log.close();
});
