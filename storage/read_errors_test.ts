/**
 * A segment the disk can no longer read (a bad sector: every read that touches it fails with
 * EIO) is damage like a record that fails its CRC: found at open, by a read or by the scrubber,
 * it is recorded, the log is cut before it and distrusted. The node still starts.
 */
import assert from "node:assert/strict";
import { SegmentLog } from "./segment_log.ts";
import { SimFileSystem } from "./sim_file_system.ts";
import { segmentFileName } from "./segment.ts";
import { segmentIndexFileName } from "./segment_index_file.ts";
import { CorruptLogError } from "./errors.ts";
import { makeEntries } from "./_test_helpers.ts";
import { ForwardingFileHandle, ForwardingFileSystem } from "./forwarding_file_system.ts";
import type { FileHandle } from "./file_io.ts";

/** Fails every read that touches bytes [from, to) of one file, as a bad sector does. */
class BadSectorFileSystem extends ForwardingFileSystem {
  bad: { path: string; from: number; to: number } | null = null;

  protected override wrap(handle: FileHandle): FileHandle {
    const badRange = () => this.bad;
    return new class extends ForwardingFileHandle {
      override readSync(position: number, target: Uint8Array): number {
        const bad = badRange();
        const touches = bad !== null && this.path === bad.path && position < bad.to &&
          position + target.length > bad.from;
        if (touches) throw new Error("EIO: input/output error (unreadable sector)");
        return super.readSync(position, target);
      }
    }(handle);
  }
}

const dir = "/node/log";
const options = { segmentBytesMax: 1500, indexIntervalBytes: 256 };

/** A log of 100 entries in several segments, closed and reopened: sealed ones are trusted. */
async function trustedLog(
  sim: SimFileSystem,
  fs: BadSectorFileSystem,
): Promise<{ log: SegmentLog; bases: number[] }> {
  const first = await SegmentLog.open(dir, { fs, ...options });
  for (let index = 1; index <= 100; index += 10) await first.appendDurable(makeEntries(index, 10));
  await first.close();
  const log = await SegmentLog.open(dir, { fs, ...options });
  const bases = sim.readDir(dir).filter((name) => name.endsWith(".log"))
    .map((name) => Number(name.slice(0, 20))).sort((a, b) => a - b);
  assert.equal(log.recovery.indexedSegments, bases.length - 1);
  return { log, bases };
}

/** Start positions of the records of a segment file, in order. */
function recordStarts(sim: SimFileSystem, path: string): number[] {
  const bytes = sim.fileBytes(path);
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const starts: number[] = [];
  for (let at = 0; at < bytes.length; at += view.getUint32(at, true) + 4) starts.push(at);
  return starts;
}

Deno.test("a sector the scrubber can't read is cut at the next open, which starts and distrusts the log", async () => {
  const sim = new SimFileSystem();
  const fs = new BadSectorFileSystem(sim);
  const { log, bases } = await trustedLog(sim, fs);
  const base = bases[2];
  const path = `${dir}/${segmentFileName(base)}`;
  const starts = recordStarts(sim, path);
  fs.bad = { path, from: starts[3] + 40, to: starts[3] + 41 }; // inside the fourth record
  const scrubber = log.scrubber();
  let step = await scrubber.step(4096);
  while (!step.done) step = await scrubber.step(4096);
  assert.match(step.damage?.reason ?? "", /read failed/);
  await log.close();
  sim.crash(); // what was recorded is durable

  const reopened = await SegmentLog.open(dir, { fs, ...options });
  assert.match(reopened.recovery.corruptAt?.reason ?? "", /read failed/);
  assert.equal(reopened.recovery.tornTail, false, "not a torn write");
  assert.equal(reopened.damage?.torn, false);
  assert.equal(reopened.lastIndex, base + 2, "cut before the record that can't be read");
  assert.deepEqual(reopened.entry(base + 2), makeEntries(base + 2, 1)[0]);
  await reopened.close();
});

Deno.test("a sector unreadable under a trusted segment's last record: the open scans and cuts it", async () => {
  const sim = new SimFileSystem();
  const fs = new BadSectorFileSystem(sim);
  const { log, bases } = await trustedLog(sim, fs);
  await log.close();
  const base = bases[1];
  const path = `${dir}/${segmentFileName(base)}`;
  const starts = recordStarts(sim, path);
  fs.bad = { path, from: starts.at(-1)! + 10, to: starts.at(-1)! + 11 };

  const reopened = await SegmentLog.open(dir, { fs, ...options });
  assert.match(reopened.recovery.corruptAt?.reason ?? "", /read failed/);
  assert.equal(reopened.damage?.torn, false);
  assert.equal(reopened.lastIndex, base + starts.length - 2);
  assert.equal(sim.exists(`${dir}/${segmentFileName(bases[2])}`), false, "later segments go");
  await reopened.close();
});

Deno.test("an index file that can't be read is not trusted: the segment is scanned", async () => {
  const sim = new SimFileSystem();
  const fs = new BadSectorFileSystem(sim);
  const { log, bases } = await trustedLog(sim, fs);
  await log.close();
  fs.bad = { path: `${dir}/${segmentIndexFileName(bases[1])}`, from: 0, to: 1 << 20 };

  const reopened = await SegmentLog.open(dir, { fs, ...options });
  assert.equal(reopened.recovery.corruptAt, undefined);
  assert.equal(reopened.recovery.indexedSegments, bases.length - 2);
  assert.equal(reopened.lastIndex, 100);
  await reopened.close();
});

Deno.test("a read that fails under a trusted index is damage: refused, recorded, cut at the next open", async () => {
  const sim = new SimFileSystem();
  const fs = new BadSectorFileSystem(sim);
  const { log, bases } = await trustedLog(sim, fs);
  const base = bases[2];
  const path = `${dir}/${segmentFileName(base)}`;
  const starts = recordStarts(sim, path);
  fs.bad = { path, from: starts[1] + 40, to: starts[1] + 41 };
  assert.throws(() => log.entry(base + 1), CorruptLogError);
  await log.close();
  assert.equal(log.damage?.torn, false, "recorded as damage");
  assert.equal(log.damage?.detail.index, base + 1);

  const reopened = await SegmentLog.open(dir, { fs, ...options });
  assert.equal(reopened.lastIndex, base);
  assert.equal(reopened.damage?.torn, false);
  await reopened.close();
});

/** A bad sector that appears once the open's scan is done (its directory sync): at the cut. */
class SectorFailingAfterScan extends BadSectorFileSystem {
  afterScan: { path: string; from: number; to: number } | null = null;

  override async syncDir(path: string): Promise<void> {
    await super.syncDir(path);
    if (this.afterScan !== null) [this.bad, this.afterScan] = [this.afterScan, null];
  }
}

Deno.test("a read the disk refuses while the open cuts an unsynced tail is damage: cut below, distrusted, the open goes on", async () => {
  const sim = new SimFileSystem();
  const fs = new SectorFailingAfterScan(sim);
  const log = await SegmentLog.open(dir, { fs, ...options });
  for (let index = 1; index <= 40; index += 10) {
    await log.appendDurable(makeEntries(index, 10, { payloadBytes: 20 }));
  }
  const next = log.lastIndex + 1;
  sim.failSyncs(1);
  await assert.rejects(log.appendDurable(makeEntries(next, 2, { payloadBytes: 20 })));
  await log.close();
  assert.equal(log.damage?.unsyncedFrom, next);
  const base = sim.readDir(dir).filter((name) => name.endsWith(".log")).sort().map((name) =>
    Number(name.slice(0, 20))
  ).at(-1)!;
  assert.ok(base < next - 1, "the cut at `next` reads the record before it, in its segment");
  const path = `${dir}/${segmentFileName(base)}`;
  const victim = recordStarts(sim, path)[next - 1 - base];
  fs.afterScan = { path, from: victim + 30, to: victim + 31 };

  const reopened = await SegmentLog.open(dir, { fs, ...options });
  assert.equal(reopened.recovery.corruptAt, undefined, "the scan read every byte");
  assert.equal(fs.afterScan, null, "the sector went bad after the scan");
  assert.equal(reopened.lastIndex, next - 2, "cut before the record that can't be read");
  assert.equal(reopened.damage?.torn, false, "damage, not a torn write");
  assert.equal(reopened.damage?.detail.index, next - 1);
  assert.match(reopened.damage?.detail.reason ?? "", /read failed/);
  assert.equal(reopened.damage?.unsyncedFrom, undefined, "the unsynced tail is cut");
  await reopened.close();
  fs.bad = null;
  sim.crash(); // what the open did is durable
  const again = await SegmentLog.open(dir, { fs, ...options });
  assert.equal(again.lastIndex, next - 2);
  assert.equal(again.damage?.torn, false);
  await again.close();
});
