import assert from "node:assert/strict";
import type { HardState } from "./hard_state.ts";
import type { LogEntry } from "./record.ts";
import { SegmentLog } from "./segment_log.ts";
import { seededRandom, SimFileSystem } from "./sim_file_system.ts";
import { makeEntries } from "./_test_helpers.ts";

const dir = "/node/log";
const options = { segmentBytesMax: 600, indexIntervalBytes: 128 };

/** What a workload promised, for checking a recovered log. */
interface Promises {
  /** Every version ever written at an index. */
  versions: Map<number, LogEntry[]>;
  /** Entries whose durability was acknowledged and not since withdrawn (truncate, reset). */
  acknowledged: Map<number, LogEntry>;
  /** Entries below this may be gone (a deletePrefix was requested). */
  mayBeDeletedBelow: number;
  /** Set once a resetTo resolved: the log must start after it. */
  resetAt: { index: number; term: number } | null;
  /** Hard states written, and the last acknowledged one. */
  hardStates: HardState[];
  acknowledgedHardState: HardState | null;
}

function newPromises(): Promises {
  return {
    versions: new Map(),
    acknowledged: new Map(),
    mayBeDeletedBelow: 0,
    resetAt: null,
    hardStates: [],
    acknowledgedHardState: null,
  };
}

/** A fixed sequence of everything a Raft node does to its log, recording what it was promised. */
async function workload(fs: SimFileSystem, promises: Promises): Promise<void> {
  const log = await SegmentLog.open(dir, { fs, ...options });
  const written = (entries: LogEntry[]) => {
    for (const entry of entries) {
      const versions = promises.versions.get(entry.index) ?? [];
      versions.push(entry);
      promises.versions.set(entry.index, versions);
    }
  };
  const durable = async (entries: LogEntry[]) => {
    written(entries);
    await log.appendDurable(entries);
    for (const entry of entries) promises.acknowledged.set(entry.index, entry);
  };
  const withdraw = (fromIndex: number) => {
    for (const index of [...promises.acknowledged.keys()]) {
      if (index >= fromIndex) promises.acknowledged.delete(index);
    }
  };
  const hardState = async (state: HardState) => {
    promises.hardStates.push(state);
    await log.writeHardState(state);
    promises.acknowledgedHardState = state;
  };

  await durable(makeEntries(1, 4, { term: 1 }));
  await Promise.all([
    durable(makeEntries(5, 3, { term: 1 })),
    durable(makeEntries(8, 2, { term: 1 })),
    durable(makeEntries(10, 4, { term: 1 })),
  ]);
  const loose = makeEntries(14, 3, { term: 1 });
  written(loose);
  log.append(loose);
  await log.sync();
  for (const entry of loose) promises.acknowledged.set(entry.index, entry);
  await hardState({ term: 2, vote: "node-b", commit: 9 });
  withdraw(12);
  await log.truncateSuffix(12);
  await Promise.all([
    durable(makeEntries(12, 6, { term: 2 })),
    hardState({ term: 3, vote: null, commit: 15 }),
  ]);
  await log.deletePrefix(8);
  promises.mayBeDeletedBelow = log.firstIndex;
  await durable(makeEntries(18, 5, { term: 3 }));
  withdraw(0);
  await log.resetTo(40, 4);
  promises.resetAt = { index: 40, term: 4 };
  await Promise.all([
    durable(makeEntries(41, 3, { term: 4 })),
    durable(makeEntries(44, 2, { term: 5 })),
  ]);
  await log.close();
}

function checkRecovered(log: SegmentLog, promises: Promises, label: string): void {
  for (const [index, entry] of promises.acknowledged) {
    if (index < promises.mayBeDeletedBelow) continue;
    assert.ok(index <= log.lastIndex, `${label}: acknowledged entry ${index} lost`);
    assert.ok(index >= log.firstIndex, `${label}: acknowledged entry ${index} before the log`);
    assert.deepEqual(log.entry(index), entry, `${label}: entry ${index} changed`);
  }
  let previousTerm = 0;
  for (let index = log.firstIndex; index <= log.lastIndex; index++) {
    const entry = log.entry(index);
    const versions = promises.versions.get(index) ?? [];
    assert.ok(
      versions.some((version) => isDeepEqual(version, entry)),
      `${label}: entry ${index} was never written`,
    );
    assert.ok(entry.term >= previousTerm, `${label}: terms go backwards at ${index}`);
    previousTerm = entry.term;
  }
  if (promises.resetAt !== null) {
    assert.ok(log.firstIndex > promises.resetAt.index, `${label}: entries from before resetTo`);
    assert.ok(log.lastIndex >= promises.resetAt.index, `${label}: log shorter than its reset`);
  }
  const state = log.readHardState();
  if (promises.acknowledgedHardState !== null) {
    const at = promises.hardStates.indexOf(promises.acknowledgedHardState);
    const allowed = promises.hardStates.slice(at);
    assert.ok(allowed.some((s) => isDeepEqual(s, state)), `${label}: hard state went back`);
  }
}

function isDeepEqual(a: unknown, b: unknown): boolean {
  try {
    assert.deepEqual(a, b);
    return true;
  } catch {
    return false;
  }
}

Deno.test("a crash at every write boundary loses no acknowledged entry and yields no corrupt one", async () => {
  const clean = new SimFileSystem();
  await workload(clean, newPromises());
  const operations = clean.stats.operations;
  assert.ok(operations > 50, `workload too small: ${operations} operations`);
  for (let crashAt = 0; crashAt <= operations; crashAt++) {
    for (const tornWrites of [false, true]) {
      const label = `crash after ${crashAt} operations${tornWrites ? ", torn" : ""}`;
      const fs = new SimFileSystem();
      const promises = newPromises();
      fs.crashAfter(crashAt);
      // The crashed process's view: what it left running (a damage record being written after
      // the one before it) can't touch the disk the recovering open uses.
      await workload(fs.session(), promises).catch((error) => {
        if (error.name !== "SimulatedCrash") throw error;
      });
      fs.crash({ random: seededRandom(crashAt), tornWrites });
      const log = await SegmentLog.open(dir, { fs, ...options });
      checkRecovered(log, promises, label);
      // Without torn writes a crash leaves exactly what was synced: nothing for recovery to
      // call damage (which would make a Raft node distrust its log until repaired).
      if (!tornWrites) assert.equal(log.recovery.corruptAt, undefined, label);
      // The recovered log keeps working.
      await log.appendDurable(
        makeEntries(log.lastIndex + 1, 2, { term: Math.max(5, log.lastTerm) }),
      );
      await log.close();
    }
  }
});

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}

Deno.test("group commit: calls made during a sync share the next single sync", async () => {
  const fs = new SimFileSystem();
  const log = await SegmentLog.open(dir, { fs, segmentBytesMax: 1 << 20 });
  log.append(makeEntries(1, 1));
  await log.sync(); // the segment and its name are durable; later rounds are one fdatasync each
  const fsyncsBefore = log.stats().fsyncs;
  fs.pauseSyncs();
  const resolvedAt: number[] = [];
  const calls: Promise<void>[] = [];
  const call = (index: number) => {
    const syncsAtCall = fs.stats.syncs;
    calls.push(
      log.appendDurable(makeEntries(index, 1)).then(() => {
        // Resolved only after a sync that began after this entry was written returned.
        assert.ok(fs.stats.syncs > syncsAtCall);
        assert.ok(log.durableIndex >= index);
        resolvedAt.push(index);
      }),
    );
  };
  call(2);
  await settle();
  assert.equal(fs.heldSyncCount, 1, "the first call's sync is in flight");
  for (let index = 3; index <= 52; index++) call(index);
  await settle();
  assert.deepEqual(resolvedAt, [], "nothing resolves while its sync is held");
  assert.equal(fs.heldSyncCount, 1, "at most one sync in flight");
  // Let the first sync finish but hold the next one.
  fs.resumeSyncs();
  fs.pauseSyncs();
  await settle();
  assert.deepEqual(resolvedAt, [2]);
  assert.equal(fs.heldSyncCount, 1);
  fs.resumeSyncs();
  await Promise.all(calls);
  assert.equal(resolvedAt.length, 51);
  assert.deepEqual(resolvedAt, [...resolvedAt].sort((a, b) => a - b), "resolved in order");
  assert.equal(log.stats().fsyncs - fsyncsBefore, 2, "51 calls, 2 fdatasyncs");
  await log.close();
});

Deno.test("a truncation during an in-flight sync is itself made durable before it resolves", async () => {
  const fs = new SimFileSystem();
  const log = await SegmentLog.open(dir, { fs });
  await log.appendDurable(makeEntries(1, 4));
  fs.pauseSyncs();
  const pending = log.appendDurable(makeEntries(5, 6));
  await settle();
  const truncated = log.truncateSuffix(7);
  log.append(makeEntries(7, 2, { term: 2 }));
  fs.resumeSyncs();
  await Promise.all([pending, truncated]);
  assert.ok(log.durableIndex >= 6);
  fs.crash();
  const reopened = await SegmentLog.open(dir, { fs });
  assert.ok(reopened.lastIndex >= 6 && reopened.lastIndex <= 8);
  if (reopened.lastIndex >= 7) assert.equal(reopened.term(7), 2);
  await reopened.close();
});

Deno.test("unsynced entries may vanish in a crash, synced ones never do", async () => {
  const fs = new SimFileSystem();
  const log = await SegmentLog.open(dir, { fs, ...options });
  await log.appendDurable(makeEntries(1, 10));
  log.append(makeEntries(11, 10));
  fs.crash();
  const reopened = await SegmentLog.open(dir, { fs, ...options });
  assert.equal(reopened.lastIndex, 10);
  assert.equal(reopened.recovery.corruptAt, undefined);
  await reopened.close();
});

Deno.test("damage after open is refused by reads, never served", async () => {
  const fs = new SimFileSystem();
  const log = await SegmentLog.open(dir, { fs, segmentBytesMax: 1 << 20 });
  const expected = makeEntries(1, 20, { payloadBytes: 100 });
  await log.appendDurable(expected);
  fs.flipBit(`${dir}/00000000000000000001.log`, 3 * 133 + 40);
  assert.throws(() => log.entry(4), { name: "CorruptLogError" });
  assert.throws(() => log.entries(1, 21), { name: "CorruptLogError" });
  assert.deepEqual(log.entry(5), expected[4]);
  // A flipped length byte makes the scan toward later entries fail loudly too.
  // (A read may also be served from bytes fetched before the damage: those are still right.)
  fs.flipBit(`${dir}/00000000000000000001.log`, 8 * 133 + 1, 3);
  try {
    assert.deepEqual(log.entry(10), expected[9]);
  } catch (error) {
    assert.equal((error as Error).name, "CorruptLogError");
  }
  await log.close();
});

Deno.test("a failed fsync fails the log instead of pretending", async () => {
  const fs = new SimFileSystem();
  const log = await SegmentLog.open(dir, { fs });
  await log.appendDurable(makeEntries(1, 2));
  fs.crashAfter(1); // the write succeeds, the sync's fdatasync fails
  await assert.rejects(log.appendDurable(makeEntries(3, 2)), { name: "SimulatedCrash" });
  assert.throws(() => log.append(makeEntries(5, 1)), { name: "SimulatedCrash" });
  fs.crash();
  const reopened = await SegmentLog.open(dir, { fs });
  assert.equal(reopened.lastIndex, 2);
  await reopened.close();
});

Deno.test("what an open trusts survives a power cut: a segment a killed process left unnamed on disk", async () => {
  // A process killed after its entries rolled into a new segment, before the directory sync that
  // makes the segment's name durable: the page cache still shows it, and the next open trusts
  // its entries (a follower would report them to its leader). A power cut after that open must
  // not take them.
  const fs = new SimFileSystem();
  const log = await SegmentLog.open(dir, { fs, segmentBytesMax: 4096 });
  await log.appendDurable(makeEntries(1, 5));
  const segmentsBefore = fs.readDir(dir).filter((name) => name.endsWith(".log")).length;
  log.append(makeEntries(6, 40)); // rolls into new segments; nothing synced yet
  assert.ok(fs.readDir(dir).filter((name) => name.endsWith(".log")).length > segmentsBefore);
  fs.endProcess();
  const next = fs.session();
  const reopened = await SegmentLog.open(dir, { fs: next, segmentBytesMax: 4096 });
  const trusted = reopened.lastIndex;
  assert.ok(trusted > 5, `the open trusts what the page cache shows (${trusted})`);
  fs.crash(); // while it runs
  const afterCut = await SegmentLog.open(dir, { fs: fs.session(), segmentBytesMax: 4096 });
  assert.equal(afterCut.lastIndex, trusted, "what the open trusted was on disk");
  await afterCut.close();
});
