import assert from "node:assert/strict";
import { SimFileSystem } from "../../storage/mod.ts";
import { adoptSnapshot, type PreparedSnapshot, type SnapshotParts } from "./snapshot_io.ts";
import type { RaftLogStorage } from "./log_storage.ts";
import { termOneEntry, thirtyEntryLog } from "./_log_fixtures.ts";

/**
 * The snapshot writer adopts a snapshot from its Ready loop and hears of a failure through the
 * promise (`removal.catch`, then its `onError`): a log that failed meanwhile must answer there,
 * not with a throw out of `adoptSnapshot` into the loop.
 */
Deno.test("adopting a snapshot on a failed log answers with a rejected promise, not a throw", async () => {
  const fs = new SimFileSystem();
  fs.mkdirp("/data/snapshots");
  const log = await thirtyEntryLog(fs, "/data/log");
  fs.failNext("write");
  assert.throws(() => log.append([termOneEntry(31)]));
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
