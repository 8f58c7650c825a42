/**
 * `SegmentLog.inlineSyncBytesMax`: a flush round of one file with at most that many bytes
 * written calls fdatasync on the calling thread; bigger rounds, rounds that change names, and
 * every round while it is 0 or after a slow round keep the async call. Either way the round is
 * durable when it resolves.
 */
import assert from "node:assert/strict";
import type { FileHandle } from "./file_io.ts";
import { ForwardingFileHandle, ForwardingFileSystem } from "./forwarding_file_system.ts";
import { recordBytes } from "./record.ts";
import { SegmentLog } from "./segment_log.ts";
import { SimFileSystem } from "./sim_file_system.ts";
import { slowRoundMs } from "./sync_scheduler.ts";
import { makeEntries } from "./_test_helpers.ts";

/** Counts each kind of data sync. */
class CountingFileSystem extends ForwardingFileSystem {
  readonly calls = { async: 0, inline: 0 };

  constructor(readonly sim: SimFileSystem) {
    super(sim);
  }
  protected override wrap(handle: FileHandle): FileHandle {
    const calls = this.calls;
    return new class extends ForwardingFileHandle {
      override syncData(): Promise<void> {
        calls.async++;
        return super.syncData();
      }
      override syncDataSync(): void {
        calls.inline++;
        super.syncDataSync();
      }
    }(handle);
  }
  take(): { async: number; inline: number } {
    const taken = { ...this.calls };
    this.calls.async = this.calls.inline = 0;
    return taken;
  }
}

const dir = "/data/log";

Deno.test("small rounds of one file sync inline, big ones and name changes async, and all are durable", async () => {
  const fs = new CountingFileSystem(new SimFileSystem());
  const log = await SegmentLog.open(dir, { fs, segmentBytesMax: 64 * 1024, mmap: false });
  await log.appendDurable(makeEntries(1, 1)); // creates the first segment: a name change
  fs.take();
  const [small] = makeEntries(2, 1);
  log.inlineSyncBytesMax = recordBytes(small.payload.length);
  await log.appendDurable([small]);
  assert.deepEqual(fs.take(), { async: 0, inline: 1 }, "one record at the bound: inline");
  await log.appendDurable(makeEntries(3, 2));
  assert.deepEqual(fs.take(), { async: 1, inline: 0 }, "two records pass the bound: async");
  // Calls made while a round runs share the next one, which counts all their bytes.
  const first = log.appendDurable(makeEntries(5, 1));
  const second = log.appendDurable(makeEntries(6, 1));
  await Promise.all([first, second]);
  assert.deepEqual(fs.take(), { async: 1, inline: 0 }, "one round of both: over the bound");
  log.inlineSyncBytesMax = 0;
  await log.appendDurable(makeEntries(7, 1));
  assert.deepEqual(fs.take(), { async: 1, inline: 0 }, "0 turns it off");
  // Whichever way they were synced, a power cut keeps every acknowledged entry.
  fs.sim.crash();
  const reopened = await SegmentLog.open(dir, { fs: fs.sim, mmap: false });
  assert.equal(reopened.lastIndex, 7);
  await reopened.close();
});

Deno.test("a round that creates a segment syncs async even when small (its directory too)", async () => {
  const fs = new CountingFileSystem(new SimFileSystem());
  const log = await SegmentLog.open(dir, { fs, segmentBytesMax: 300, mmap: false });
  log.inlineSyncBytesMax = 1 << 20;
  await log.appendDurable(makeEntries(1, 1));
  assert.deepEqual(fs.take(), { async: 1, inline: 0 });
  let segments = log.stats().segments;
  for (let index = 2; log.stats().segments === segments; index++) {
    await log.appendDurable(makeEntries(index, 1));
    const calls = fs.take();
    if (log.stats().segments === segments) {
      assert.deepEqual(calls, { async: 0, inline: 1 });
    } else {
      assert.equal(calls.inline, 0, "a new segment's round is never inline");
      segments = log.stats().segments;
      break;
    }
  }
  assert.ok(segments > 1);
  fs.sim.crash();
  const reopened = await SegmentLog.open(dir, { fs: fs.sim, mmap: false });
  assert.equal(reopened.lastIndex, log.lastIndex);
  await reopened.close();
});

Deno.test("a failed inline fdatasync is recorded before it is reported, as an async one is", async () => {
  const sim = new SimFileSystem();
  const log = await SegmentLog.open(dir, { fs: sim, mmap: false });
  await log.appendDurable(makeEntries(1, 2));
  log.inlineSyncBytesMax = 1 << 20;
  sim.failSyncs(1);
  await assert.rejects(log.appendDurable(makeEntries(3, 1)));
  assert.equal(log.damage?.unsyncedFrom, 3);
  await log.close();
});

Deno.test("after a slow round the next small one syncs async, and inline again once one is fast", async () => {
  const sim = new SimFileSystem();
  const fs = new CountingFileSystem(sim);
  const log = await SegmentLog.open(dir, { fs, mmap: false });
  await log.appendDurable(makeEntries(1, 1));
  log.inlineSyncBytesMax = 1 << 20;
  // A disk that stalls: the round is held past slowRoundMs (a lower bound this test controls).
  fs.take();
  sim.pauseSyncs();
  log.inlineSyncBytesMax = 0; // this round async, so the pause can hold it
  const held = log.appendDurable(makeEntries(2, 1));
  await new Promise((resolve) => setTimeout(resolve, slowRoundMs + 20));
  sim.resumeSyncs();
  await held;
  log.inlineSyncBytesMax = 1 << 20;
  await log.appendDurable(makeEntries(3, 1));
  assert.deepEqual(fs.take(), { async: 2, inline: 0 }, "the round after the stall is not inline");
  await log.appendDurable(makeEntries(4, 1));
  assert.deepEqual(fs.take(), { async: 0, inline: 1 }, "a fast round since: inline again");
  await log.close();
});

Deno.test("rounds are timed by the clock the log is given (a simulation's stays reproducible)", async () => {
  const sim = new SimFileSystem();
  const fs = new CountingFileSystem(sim);
  let now = 0;
  const log = await SegmentLog.open(dir, { fs, mmap: false, now: () => now });
  await log.appendDurable(makeEntries(1, 1));
  fs.take();
  sim.pauseSyncs();
  const held = log.appendDurable(makeEntries(2, 1));
  await new Promise((resolve) => setTimeout(resolve, slowRoundMs + 20)); // real time only
  sim.resumeSyncs();
  await held;
  log.inlineSyncBytesMax = 1 << 20;
  await log.appendDurable(makeEntries(3, 1));
  assert.deepEqual(fs.take(), { async: 1, inline: 1 }, "no simulated time passed: not slow");
  sim.pauseSyncs();
  log.inlineSyncBytesMax = 0;
  const slow = log.appendDurable(makeEntries(4, 1));
  await new Promise((resolve) => setTimeout(resolve, 0)); // the round has started
  now += slowRoundMs; // simulated time passes while the round is held
  sim.resumeSyncs();
  await slow;
  log.inlineSyncBytesMax = 1 << 20;
  await log.appendDurable(makeEntries(5, 1));
  assert.deepEqual(fs.take(), { async: 2, inline: 0 }, "slow in simulated time: async");
  await log.close();
});
