import assert from "node:assert/strict";
import { SegmentLog, SimFileSystem } from "../../storage/mod.ts";
import type { ConfigState, Entry, HardState } from "../../raft/mod.ts";
import { RaftLogWriter } from "./log_writer.ts";
import { RaftLogStorage } from "./log_storage.ts";
import { thirtyEntryLog } from "./_log_fixtures.ts";

/** A writer of `log` at term 1, whose storage keeps nothing. */
function writerOf(log: SegmentLog): RaftLogWriter {
  const storage = {
    initialState: () => ({ hardState: { term: 1, vote: null, commit: 0 } }),
    forgetFrom: () => {},
    remember: () => {},
  } as unknown as RaftLogStorage;
  return new RaftLogWriter(
    { log, storage, clock: { now: () => 0 } },
    { tailTimestamp: 10, policy: { intervalMs: 3000, entries: 10_000, bytes: 1 << 26 } },
  );
}

/**
 * A log whose truncation is accepted (its flush fails a little later, as a disk that just died
 * fails it) and whose next append throws: the append's error reaches the caller, and the
 * truncation's failure, which nobody waits for any more, must not be an unhandled rejection
 * (that ends a Deno process). The simulation found it (seed 9238 at 60 steps).
 */
Deno.test("an append that fails after its truncation leaves no unhandled rejection", async () => {
  let truncationFailed = false;
  let lastIndex = 5;
  const log = {
    get lastIndex() {
      return lastIndex;
    },
    firstIndex: 1,
    readHardState: () => ({ term: 1, vote: null, commit: 0 }),
    truncateSuffix(from: number) {
      lastIndex = from - 1; // cut at once in memory, as the log does
      return new Promise<void>((_, reject) =>
        setTimeout(() => {
          truncationFailed = true;
          reject(new Error("the disk is gone"));
        }, 5)
      );
    },
    entry: (index: number) => ({
      term: 1,
      index,
      timestamp: 10,
      type: 0,
      payload: new Uint8Array(),
    }),
    append: () => {
      throw new Error("write failed");
    },
    sync: () => Promise.resolve(),
  } as unknown as SegmentLog;
  const writer = writerOf(log);
  const entries = [{ term: 2, index: 4, type: 0, data: new Uint8Array(), timestamp: 20 }];
  let truncatedFrom = 0;
  await assert.rejects(
    writer.append(entries as unknown as Entry[], (first) => (truncatedFrom = first)),
    /write failed/,
  );
  assert.equal(truncatedFrom, 4);
  // Let the truncation's flush fail; the test runner reports an unhandled rejection as a failure.
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.ok(truncationFailed);
});

Deno.test("an append whose truncation fails before cutting reports the truncation's error", async () => {
  const fs = new SimFileSystem();
  const log = await thirtyEntryLog(fs, "/log");
  await log.deletePrefix(10);
  const first = log.firstIndex;
  assert.ok(first > 1, "the prefix went: the term before the log is unknown");
  const writer = writerOf(log);
  // A cut of every entry is refused (it would lose the last term) and changes nothing: that is
  // the error, not the append's that follows it.
  const entries = [{ term: 2, index: first, type: 0, data: new Uint8Array(), timestamp: 20 }];
  await assert.rejects(
    writer.append(entries as unknown as Entry[], () => {}),
    /truncating every entry would lose the last term/,
  );
  assert.equal(log.lastIndex, 30, "nothing was cut or appended");
  await log.close();
});

/**
 * A follower that installed a snapshot without entries (its log starts after the snapshot
 * point) appended an entry of one leader, which a later leader, whose clock ran behind the
 * first's, overwrites with an earlier stamp: it goes back from the cut entry, not from the
 * snapshot point, so it is sound. The tail the cut leaves is the snapshot point's time.
 */
Deno.test("an append that cuts back to an entry-less snapshot point follows that point's time", async () => {
  const fs = new SimFileSystem();
  const log = await SegmentLog.open("/log", { fs, segmentBytesMax: 600 });
  await log.resetTo(20, 1);
  const config = { voters: ["n1", "n2", "n3"], learners: [] } as unknown as ConfigState;
  const storage = new RaftLogStorage(log, {
    snapshot: { index: 20, term: 1, config, lowestReferencedIndex: 21, timestamp: 1_000 },
    hardState: { term: 2, vote: null, commit: 20 } as unknown as HardState,
    fs,
    snapshotsDir: "/snapshots",
  });
  const writer = new RaftLogWriter(
    { log, storage, clock: { now: () => 0 } },
    { tailTimestamp: 1_000, policy: { intervalMs: 3000, entries: 10_000, bytes: 1 << 26 } },
  );
  const entry = (term: number, timestamp: number) =>
    ({ term, index: 21, type: 0, data: new Uint8Array(), timestamp }) as unknown as Entry;
  await writer.append([entry(2, 1_500)], () => {});
  await writer.append([entry(3, 1_200)], () => {});
  assert.equal(log.entry(21).timestamp, 1_200);
  assert.equal(writer.tailTimestamp, 1_200);
  await log.close();
});
