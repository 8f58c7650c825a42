import assert from "node:assert/strict";
import { SegmentLog } from "./segment_log.ts";
import { SimFileSystem, SimulatedIoError } from "./sim_file_system.ts";
import { ForwardingFileHandle, ForwardingFileSystem } from "./forwarding_file_system.ts";
import type { FileHandle } from "./file_io.ts";
import { HeldSyncs, makeEntries, ticks } from "./_test_helpers.ts";

const dir = "/node/log";

Deno.test("after a failed fsync, a reopened log cuts the unsynced tail instead of trusting the page cache", async () => {
  const fs = new SimFileSystem();
  const log = await SegmentLog.open(dir, { fs });
  await log.appendDurable(makeEntries(1, 3));
  fs.failSyncs(1);
  await assert.rejects(log.appendDurable(makeEntries(4, 2)), SimulatedIoError);
  assert.equal(log.damage?.unsyncedFrom, 4, "the failure is recorded before it is reported");
  await log.close();
  // A restart of the process, not of the machine: the page cache still shows entries 4 and 5.
  assert.ok(fs.fileBytes(`${dir}/${(await firstSegment(fs))}`).length > 0);
  const reopened = await SegmentLog.open(dir, { fs });
  assert.equal(reopened.lastIndex, 3, "entries 4 and 5 never reached the disk");
  assert.equal(reopened.damage?.torn, true, "the cut reads as unacknowledged writes");
  assert.equal(reopened.damage?.detail.index, 4);
  await reopened.close();
  // A power cut afterwards loses nothing the reopened log showed.
  fs.crash();
  const afterCrash = await SegmentLog.open(dir, { fs });
  assert.equal(afterCrash.lastIndex, 3);
  assert.equal(afterCrash.entry(3).index, 3);
  await afterCrash.close();
});

Deno.test("a log whose fsync failed refuses further work until reopened", async () => {
  const fs = new SimFileSystem();
  const log = await SegmentLog.open(dir, { fs });
  await log.appendDurable(makeEntries(1, 2));
  fs.failSyncs(1);
  await assert.rejects(log.appendDurable(makeEntries(3, 1)), SimulatedIoError);
  assert.throws(() => log.append(makeEntries(4, 1)), SimulatedIoError);
  await assert.rejects(async () => await log.sync(), SimulatedIoError);
  await log.close();
});

/** Segment writes fail once `full` (a few bytes land first), and so can directory syncs. */
class FailingDisk extends ForwardingFileSystem {
  full = false;
  directorySyncFails = false;

  override open(path: string, options?: { create?: boolean }): FileHandle {
    const full = () => this.full && path.endsWith(".log");
    return new class extends ForwardingFileHandle {
      override writeSync(bytes: Uint8Array): void {
        if (!full()) return this.inner.writeSync(bytes);
        this.inner.writeSync(bytes.subarray(0, 10));
        throw new Error("ENOSPC: no space left on device (simulated)");
      }
    }(super.open(path, options));
  }

  override syncDirSync(path: string): void {
    if (this.directorySyncFails) throw new Error("EIO: directory fsync failed (simulated)");
    super.syncDirSync(path);
  }

  /** Fails the directory sync that follows a persisted index's rename, once. */
  indexDirectorySyncFails = false;
  #indexRenamed = false;

  override rename(from: string, to: string): void {
    super.rename(from, to);
    this.#indexRenamed ||= to.endsWith(".index");
  }

  override syncDir(path: string): Promise<void> {
    if (!this.indexDirectorySyncFails || !this.#indexRenamed) return super.syncDir(path);
    this.indexDirectorySyncFails = false;
    return Promise.reject(new Error("EIO: directory fsync failed (simulated)"));
  }
}

Deno.test("a write that fails while a sync is in flight: nothing the restart cuts is acknowledged", async () => {
  const sim = new SimFileSystem();
  const fs = new FailingDisk(sim);
  const log = await SegmentLog.open(dir, { fs });
  await log.appendDurable(makeEntries(1, 3));
  let acknowledgedThrough = 3;
  sim.pauseSyncs();
  const inFlight = log.appendDurable(makeEntries(4, 2))
    .then(() => void (acknowledgedThrough = 5), () => {});
  await new Promise((resolve) => setTimeout(resolve, 0)); // its round is running
  fs.full = true;
  await assert.rejects(log.appendDurable(makeEntries(6, 1)), /ENOSPC/);
  sim.resumeSyncs();
  await inFlight;
  await log.close();
  sim.crash();
  const reopened = await SegmentLog.open(dir, { fs: sim });
  assert.ok(
    reopened.lastIndex >= acknowledgedThrough,
    `entries to ${acknowledgedThrough} were acknowledged, the log ends at ${reopened.lastIndex}`,
  );
  assert.equal(reopened.damage?.torn, true);
  await reopened.close();
});

Deno.test("a truncation whose directory sync fails fails the appends waiting for what it removed", async () => {
  const sim = new SimFileSystem();
  const fs = new FailingDisk(sim);
  let rounds = 0;
  const now = () => {
    // A flush loop that never ends would block the event loop for good: stop it, and fail.
    if (++rounds > 10_000) throw new Error("flush rounds never end");
    return rounds;
  };
  const log = await SegmentLog.open(dir, { fs, segmentBytesMax: 600, now });
  await log.appendDurable(makeEntries(1, 3));
  sim.pauseSyncs();
  const waiting = log.appendDurable(makeEntries(4, 10)); // rolls into further segments
  fs.directorySyncFails = true;
  await assert.rejects(log.truncateSuffix(2), /EIO/);
  sim.resumeSyncs();
  await assert.rejects(waiting, /EIO/);
  assert.ok(rounds < 100, `${rounds} flush rounds`);
  await log.close();
});

Deno.test("a directory fsync that fails behind a persisted index fails the log too", async () => {
  const sim = new SimFileSystem();
  const fs = new FailingDisk(sim);
  const log = await SegmentLog.open(dir, { fs, segmentBytesMax: 600 });
  fs.indexDirectorySyncFails = true;
  // Rolls: the sealed segment's index is written once its entries are durable.
  await log.appendDurable(makeEntries(1, 8));
  for (let turn = 0; turn < 20 && fs.indexDirectorySyncFails; turn++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  assert.equal(fs.indexDirectorySyncFails, false, "the index write synced the directory");
  await new Promise((resolve) => setTimeout(resolve, 0));
  // The directory holds the segments' names too: a later sync of it may well "succeed" (the
  // error was reported once), so nothing may be acknowledged on the strength of one.
  await assert.rejects(log.appendDurable(makeEntries(9, 1)), /EIO/);
  assert.equal(log.damage?.unsyncedFrom, 9);
  await log.close();
});

Deno.test("a hard state write whose directory fsync fails fails the log", async () => {
  const fs = new SimFileSystem();
  const log = await SegmentLog.open(dir, { fs });
  await log.appendDurable(makeEntries(1, 2));
  fs.failNext("dirSync");
  await assert.rejects(log.writeHardState({ term: 2, vote: "n1", commit: 2 }), /EIO/);
  // The rename may not be durable, and a later directory fsync may report success without it
  // (fsyncgate): nothing more may be acknowledged on the strength of one.
  assert.throws(() => log.append(makeEntries(3, 1)), /EIO/);
  await assert.rejects(async () => await log.sync(), /EIO/);
  await log.close();
  assert.equal(log.damage?.unsyncedFrom, 3, "recorded: the next open cuts what was not synced");
});

Deno.test("a hard state write whose temp file fsync fails fails the log", async () => {
  const fs = new SimFileSystem();
  const log = await SegmentLog.open(dir, { fs });
  await log.appendDurable(makeEntries(1, 2));
  fs.failSyncs(1);
  await assert.rejects(log.writeHardState({ term: 2, vote: "n1", commit: 2 }), /EIO/);
  assert.throws(() => log.append(makeEntries(3, 1)), /EIO/);
  await log.close();
});

Deno.test("a hard state that breaks its rules is refused and changes nothing, the log goes on", async () => {
  const fs = new SimFileSystem();
  const log = await SegmentLog.open(dir, { fs });
  await log.writeHardState({ term: 2, vote: "n1", commit: 0 });
  await assert.rejects(log.writeHardState({ term: -1, vote: null, commit: 0 }), /term/);
  assert.deepEqual(log.readHardState(), { term: 2, vote: "n1", commit: 0 });
  await log.appendDurable(makeEntries(1, 2));
  await log.close();
});

const recorded = { index: 1, file: dir, offset: 0, reason: "a bad record (test)" };

Deno.test("a damage record removal whose directory fsync fails fails the log and keeps the record", async () => {
  const fs = new SimFileSystem();
  const log = await SegmentLog.open(dir, { fs });
  await log.appendDurable(makeEntries(1, 2));
  await log.noteDamage(recorded, { torn: false });
  fs.failNext("dirSync");
  await assert.rejects(log.clearDamage(), /EIO/);
  // The removal may not be durable, and a later directory fsync may report success without it
  // (fsyncgate): the damage still counts, and nothing more is acknowledged.
  assert.equal(log.damage?.detail.reason, recorded.reason);
  assert.throws(() => log.append(makeEntries(3, 1)), /EIO/);
  await log.close();
  fs.crash();
  const reopened = await SegmentLog.open(dir, { fs });
  assert.equal(reopened.damage?.detail.reason, recorded.reason, "the damage is still recorded");
  assert.equal(reopened.damage?.torn, false);
  await reopened.close();
});

Deno.test("a failed log's damage record is not cleared: the next open still cuts its unsynced tail", async () => {
  const fs = new SimFileSystem();
  const log = await SegmentLog.open(dir, { fs });
  await log.appendDurable(makeEntries(1, 3));
  fs.failSyncs(1);
  await assert.rejects(log.appendDurable(makeEntries(4, 2)), SimulatedIoError);
  await assert.rejects(log.clearDamage(), SimulatedIoError);
  assert.equal(log.damage?.unsyncedFrom, 4, "still recorded");
  await log.close();
  const reopened = await SegmentLog.open(dir, { fs });
  assert.equal(reopened.lastIndex, 3, "entries 4 and 5 never reached the disk");
  await reopened.close();
});

Deno.test("a clear that comes while a failed flush records its failure leaves that record", async () => {
  const sim = new SimFileSystem();
  const fs = new HeldSyncs(sim);
  const log = await SegmentLog.open(dir, { fs });
  await log.appendDurable(makeEntries(1, 3));
  await log.noteDamage(recorded, { torn: true });
  // The flush fails; its record of the failure is held at the temp file's fsync, so the log
  // has not failed yet when the clear comes.
  fs.hold(".tmp");
  sim.failSyncs(1);
  const failing = log.appendDurable(makeEntries(4, 2));
  failing.catch(() => {});
  await ticks(2);
  assert.ok(sim.readDir(dir).includes("damage.tmp"), "the failure is being recorded");
  const cleared = log.clearDamage();
  cleared.catch(() => {});
  fs.release(".tmp");
  await assert.rejects(failing, SimulatedIoError);
  await assert.rejects(cleared);
  assert.equal(log.damage?.unsyncedFrom, 4, "still recorded");
  await log.close();
  const reopened = await SegmentLog.open(dir, { fs: sim });
  assert.equal(reopened.lastIndex, 3, "entries 4 and 5 never reached the disk");
  await reopened.close();
});

/** A scrub that finds damage: a directory sync after its record, or after its index removal, fails. */
class ScrubSyncFails extends ForwardingFileSystem {
  armed: "damage record" | "index removal" | null = null;
  failed = 0;
  #indexRemoved = false;

  override remove(path: string): void {
    super.remove(path);
    this.#indexRemoved ||= this.armed !== null && path.endsWith(".index");
  }

  override syncDir(path: string): Promise<void> {
    const due = this.armed === "damage record"
      ? this.inner.exists(`${dir}/damage`)
      : this.armed === "index removal" && this.#indexRemoved;
    if (!due) return super.syncDir(path);
    this.armed = null;
    this.failed++;
    return Promise.reject(new Error("EIO: directory fsync failed (simulated)"));
  }
}

for (const failing of ["damage record", "index removal"] as const) {
  Deno.test(`a scrub whose ${failing} for a damaged segment can't be synced fails the log`, async () => {
    const sim = new SimFileSystem();
    const fs = new ScrubSyncFails(sim);
    const options = { fs, segmentBytesMax: 1500, indexIntervalBytes: 256 };
    const first = await SegmentLog.open(dir, options);
    for (let index = 1; index <= 60; index += 10) await first.appendDurable(makeEntries(index, 10));
    await first.close();
    const log = await SegmentLog.open(dir, options);
    assert.ok((log.recovery.indexedSegments ?? 0) > 0);
    const path = `${dir}/${sim.readDir(dir).filter((name) => name.endsWith(".log")).sort()[0]}`;
    const firstLength = new DataView(sim.fileBytes(path).buffer).getUint32(0, true) + 4;
    sim.flipBit(path, firstLength + 40); // the second record's payload
    fs.armed = failing;
    const scrubber = log.scrubber();
    await assert.rejects(async () => {
      for (let step = await scrubber.step(4096); !step.done; step = await scrubber.step(4096));
    }, /EIO/);
    assert.equal(fs.failed, 1, `the ${failing}'s directory sync failed`);
    // What that sync was to make durable is unknown, and a later directory sync may say it is
    // (fsyncgate): the log takes nothing more.
    assert.throws(() => log.append(makeEntries(61, 1)), /EIO/);
    await log.close();
  });
}

async function firstSegment(fs: SimFileSystem): Promise<string> {
  await Promise.resolve();
  return fs.readDir(dir).find((name) => name.endsWith(".log"))!;
}
