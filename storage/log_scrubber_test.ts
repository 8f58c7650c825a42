import assert from "node:assert/strict";
import { SegmentLog } from "./segment_log.ts";
import { SimFileSystem } from "./sim_file_system.ts";
import {
  decodeSegmentIndex,
  encodeSegmentIndex,
  segmentIndexFileName,
} from "./segment_index_file.ts";
import { segmentFileName } from "./segment.ts";
import { makeEntries, ReadBufferRecordingFileSystem } from "./_test_helpers.ts";
import type { ScrubStep } from "./log_scrubber.ts";
import { CorruptLogError } from "./errors.ts";

const dir = "/node/log";
const options = { segmentBytesMax: 1500, indexIntervalBytes: 256 };

async function reopenedLog(fs: SimFileSystem): Promise<{ log: SegmentLog; bases: number[] }> {
  const first = await SegmentLog.open(dir, { fs, ...options });
  for (let index = 1; index <= 100; index += 10) {
    await first.appendDurable(makeEntries(index, 10, { term: 1 + Math.floor(index / 40) }));
  }
  await first.close();
  const log = await SegmentLog.open(dir, { fs, ...options });
  const bases = fs.readDir(dir).filter((name) => name.endsWith(".log"))
    .map((name) => Number(name.slice(0, 20)));
  assert.equal(log.recovery.indexedSegments, bases.length - 1);
  return { log, bases };
}

async function scrubAll(log: SegmentLog, bytesMax: number): Promise<ScrubStep[]> {
  const scrubber = log.scrubber();
  const steps: ScrubStep[] = [];
  for (let guard = 0; guard < 10_000; guard++) {
    const step = await scrubber.step(bytesMax);
    steps.push(step);
    if (step.done) return steps;
  }
  throw new Error("the scrubber never finished");
}

Deno.test("the scrubber reads every trusted segment in bounded steps and finds nothing on a sound log", async () => {
  const fs = new SimFileSystem();
  const { log, bases } = await reopenedLog(fs);
  const readBefore = fs.stats.readBytes;
  const steps = await scrubAll(log, 300);
  const sealedBytes = bases.slice(0, -1)
    .reduce((total, base) => total + fs.fileBytes(`${dir}/${segmentFileName(base)}`).length, 0);
  assert.equal(steps.reduce((total, step) => total + step.bytes, 0), sealedBytes);
  assert.ok(steps.length > sealedBytes / 300, "many small steps");
  // A step reads its budget, or one whole record when that is longer.
  for (const step of steps) assert.ok(step.bytes <= 300 + 250, `step of ${step.bytes} bytes`);
  assert.ok(steps.every((step) => step.damage === null));
  assert.ok(fs.stats.readBytes - readBefore <= sealedBytes + steps.length * 300);
  assert.equal(log.damage, null);
  assert.equal((await log.scrubber().step(300)).done, true, "nothing left to verify");
  await log.close();
});

Deno.test("a bit flipped inside a trusted sealed segment is found by the scrubber and ends in the damage path", async () => {
  const fs = new SimFileSystem();
  const { log, bases } = await reopenedLog(fs);
  const damaged = bases[2];
  const path = `${dir}/${segmentFileName(damaged)}`;
  // The second record's payload: not the last record, which the open checks itself.
  const firstLength = new DataView(fs.fileBytes(path).buffer).getUint32(0, true) + 4;
  fs.flipBit(path, firstLength + 40);
  const steps = await scrubAll(log, 4096);
  const damage = steps.at(-1)!.damage;
  assert.equal(damage?.index, damaged + 1);
  assert.equal(damage?.reason, "scrub: bad crc");
  assert.equal(log.damage?.torn, false, "recorded as damage, not as a torn write");
  assert.equal(log.damage?.detail.index, damaged + 1);
  assert.equal(fs.exists(`${dir}/${segmentIndexFileName(damaged)}`), false, "index removed");
  await log.close();
  // Durably: a power cut now keeps both, and the next open finds and cuts the damage.
  fs.crash();
  const reopened = await SegmentLog.open(dir, { fs, ...options });
  assert.equal(reopened.damage?.torn, false);
  assert.equal(reopened.recovery.corruptAt?.index, damaged + 1);
  assert.equal(reopened.lastIndex, damaged);
  await reopened.close();
});

Deno.test("segments that leave the log while being scrubbed are skipped, not reported", async () => {
  const fs = new SimFileSystem();
  const { log, bases } = await reopenedLog(fs);
  const scrubber = log.scrubber();
  await scrubber.step(100);
  await log.deletePrefix(bases[3]);
  await log.truncateSuffix(bases[4] + 1);
  const steps = [];
  for (let step = await scrubber.step(100); !step.done; step = await scrubber.step(100)) {
    steps.push(step);
  }
  assert.ok(steps.every((step) => step.damage === null));
  // The segment before the cut, and the record the cut left of the next one (never read yet).
  assert.equal(scrubber.verifiedSegments, 2, "what the cut left is still read");
  assert.equal(log.damage, null);
  await log.close();
});

/** Flips a bit in the payload of the second record of the segment based at `base`. */
function flipSecondRecord(fs: SimFileSystem, base: number): void {
  const path = `${dir}/${segmentFileName(base)}`;
  const firstLength = new DataView(fs.fileBytes(path).buffer).getUint32(0, true) + 4;
  fs.flipBit(path, firstLength + 40);
}

Deno.test("a Raft cut inside a trusted segment leaves what it keeps to the scrubber, damage included", async () => {
  const fs = new SimFileSystem();
  const { log, bases } = await reopenedLog(fs);
  const damaged = bases[2];
  flipSecondRecord(fs, damaged);
  // A conflicting leader cuts the log from the fourth record of that segment on (the cut reads
  // the record before it, not the second) and appends to it again.
  await log.truncateSuffix(damaged + 3);
  await log.appendDurable(makeEntries(damaged + 3, 2, { term: 9 }));
  const steps = await scrubAll(log, 4096);
  assert.equal(steps.at(-1)!.damage?.index, damaged + 1, "the kept prefix was read");
  assert.equal(log.damage?.torn, false);
  await log.close();
});

Deno.test("a trusted segment left last by a cut at the next segment's base is still scrubbed whole", async () => {
  const fs = new SimFileSystem();
  const { log, bases } = await reopenedLog(fs);
  const damaged = bases[2];
  flipSecondRecord(fs, damaged);
  await log.truncateSuffix(bases[3]);
  const steps = await scrubAll(log, 4096);
  assert.equal(steps.at(-1)!.damage?.index, damaged + 1);
  await log.close();
});

Deno.test("a sound trusted segment cut by Raft scrubs clean up to the cut", async () => {
  const fs = new SimFileSystem();
  const { log, bases } = await reopenedLog(fs);
  await log.truncateSuffix(bases[2] + 3);
  await log.appendDurable(makeEntries(bases[2] + 3, 3, { term: 9 }));
  const scrubber = log.scrubber();
  let step;
  do step = await scrubber.step(4096); while (!step.done);
  assert.equal(step.damage, null);
  assert.equal(scrubber.verifiedSegments, 3, "two whole segments and the cut one's prefix");
  assert.equal(log.damage, null);
  await log.close();
});

Deno.test("the scrubber reads records longer than a step's budget into the one buffer it reuses", async () => {
  const fs = new ReadBufferRecordingFileSystem(new SimFileSystem());
  const first = await SegmentLog.open(dir, { fs, ...options });
  // Records of about 470 bytes: three to a segment, each longer than a step's 300 bytes.
  for (let index = 1; index <= 30; index += 3) {
    await first.appendDurable(makeEntries(index, 3, { payloadBytes: 420 }));
  }
  await first.close();
  const log = await SegmentLog.open(dir, { fs, ...options });
  assert.ok((log.recovery.indexedSegments ?? 0) >= 5, `${log.recovery.indexedSegments} indexed`);
  fs.reset();
  const steps = await scrubAll(log, 300);
  assert.ok(steps.every((step) => step.damage === null));
  assert.ok(fs.reads >= 20, `${fs.reads} reads`);
  // Its buffer for the first, short read, and the one it grows to once for a whole record.
  assert.ok(fs.buffers.size <= 2, `${fs.reads} reads landed in ${fs.buffers.size} buffers`);
  await log.close();
});

Deno.test("a cut that meets a bad length before the cut keeps the segment's scrub bound for a lower cut", async () => {
  const fs = new SimFileSystem();
  const first = await SegmentLog.open(dir, { fs, ...options });
  for (let index = 1; index <= 100; index += 10) {
    await first.appendDurable(makeEntries(index, 10, { payloadBytes: 20 }));
  }
  await first.close();
  const log = await SegmentLog.open(dir, { fs, ...options });
  const bases = fs.readDir(dir).filter((name) => name.endsWith(".log"))
    .map((name) => Number(name.slice(0, 20))).sort((a, b) => a - b);
  const damaged = bases[1];
  const path = `${dir}/${segmentFileName(damaged)}`;
  const view = new DataView(fs.fileBytes(path).buffer);
  const recordLength = (position: number) => view.getUint32(position, true) + 4;
  const third = recordLength(0) + recordLength(recordLength(0));
  fs.flipBit(path, 40); // in the first record's payload: for the scrubber to find
  fs.flipBit(path, third + 3); // the third record's length, far past the file's end
  // The cut walks from the segment's first index point (records are small) through the third
  // record's length, and fails; the recovery behind it cuts lower, at that record.
  await assert.rejects(log.truncateSuffix(damaged + 3), CorruptLogError);
  await log.truncateSuffix(damaged + 2);
  const steps = await scrubAll(log, 4096);
  assert.equal(steps.at(-1)!.damage?.index, damaged, "what the cut kept was still read");
  await log.close();
});

Deno.test("a cut whose record before it fails its check leaves the scrubber the rest of the segment", async () => {
  const fs = new SimFileSystem();
  const { log, bases } = await reopenedLog(fs);
  const base = bases[0]; // the first segment the scrubber reads
  const path = `${dir}/${segmentFileName(base)}`;
  const view = new DataView(fs.fileBytes(path).buffer);
  const offsets = [0]; // offsets[i]: where the record of base + i starts
  while (offsets.length < 8) {
    offsets.push(offsets.at(-1)! + view.getUint32(offsets.at(-1)!, true) + 4);
  }
  const scrubber = log.scrubber();
  const first = await scrubber.step(offsets[6]); // records base .. base + 5, found sound
  assert.deepEqual([first.bytes, first.damage, first.done], [offsets[6], null, false]);
  fs.flipBit(path, offsets[3] - 1); // the last byte of base + 2
  fs.flipBit(path, offsets[6] + 40); // in base + 6, past where the scrub has read
  await assert.rejects(log.truncateSuffix(base + 3), CorruptLogError);
  // The failed cut changed nothing: the scrub goes on past base + 3 and finds base + 6.
  let step;
  do step = await scrubber.step(4096); while (!step.done);
  assert.equal(step.damage?.index, base + 6);
  await log.close();
});

Deno.test("a trusted index whose time point is not the records' is found by the scrubber: the restart rebuilds it, cutting nothing", async () => {
  const fs = new SimFileSystem();
  const first = await SegmentLog.open(dir, { fs, ...options });
  for (let index = 1; index <= 100; index += 10) {
    await first.appendDurable(makeEntries(index, 10, { payloadBytes: 20 }));
  }
  await first.close();
  const bases = fs.readDir(dir).filter((name) => name.endsWith(".log"))
    .map((name) => Number(name.slice(0, 20))).sort((a, b) => a - b);
  const base = bases[1];
  // The index file keeps its own CRC, but its third time point says an earlier time than the
  // record there holds (an index that does not describe its segment).
  const indexPath = `${dir}/${segmentIndexFileName(base)}`;
  const summary = decodeSegmentIndex(fs.fileBytes(indexPath), indexPath);
  assert.ok(!("refused" in summary));
  const { timestamps, relativeIndexes } = summary.timePoints;
  assert.ok(timestamps.length >= 3 && relativeIndexes[2] - relativeIndexes[1] >= 2);
  timestamps[2] = timestamps[1] + 1;
  fs.remove(indexPath);
  const handle = fs.open(indexPath, { create: true });
  handle.writeSync(encodeSegmentIndex(summary));
  await handle.syncData();
  handle.close();
  await fs.syncDir(dir);

  const log = await SegmentLog.open(dir, { fs, ...options });
  assert.equal(log.recovery.indexedSegments, bases.length - 1, "the index is trusted");
  // A rewind to just after the second point's time starts at the third point, past entries
  // that are as new as asked.
  const asked = timestamps[1] + 2;
  const right = base + relativeIndexes[1] + 1;
  assert.equal(log.indexAtOrAfterTime(asked), base + relativeIndexes[2], "the wrong start");
  const steps = await scrubAll(log, 4096);
  const damage = steps.at(-1)!.damage;
  assert.match(damage?.reason ?? "", /time point/);
  assert.equal(damage?.index, base + relativeIndexes[2]);
  assert.equal(fs.exists(indexPath), false, "index removed");
  assert.equal(log.damage?.torn, false, "as the other index checks: recorded as damage");
  await log.close();

  fs.crash();
  const reopened = await SegmentLog.open(dir, { fs, ...options });
  assert.equal(reopened.lastIndex, 100, "every record is sound: nothing cut");
  assert.equal(reopened.indexAtOrAfterTime(asked), right, "the scan rebuilt the time index");
  await reopened.close();
});

Deno.test("the scrubber finds a trusted index whose first timestamp is not the first record's", async () => {
  const fs = new SimFileSystem();
  const { log: first, bases } = await reopenedLog(fs);
  await first.close();
  const base = bases[1];
  const indexPath = `${dir}/${segmentIndexFileName(base)}`;
  const summary = decodeSegmentIndex(fs.fileBytes(indexPath), indexPath);
  assert.ok(!("refused" in summary));
  // Later than the record's, still before the second's; the first time point says so too (an
  // index whose first time point is not its first timestamp is refused at open).
  summary.firstTimestamp += 5;
  summary.timePoints.timestamps[0] += 5;
  fs.remove(indexPath);
  const handle = fs.open(indexPath, { create: true });
  handle.writeSync(encodeSegmentIndex(summary));
  await handle.syncData();
  handle.close();
  await fs.syncDir(dir);

  const log = await SegmentLog.open(dir, { fs, ...options });
  assert.equal(log.recovery.indexedSegments, bases.length - 1, "the index is trusted");
  const steps = await scrubAll(log, 4096);
  assert.match(steps.at(-1)!.damage?.reason ?? "", /first timestamp/);
  assert.equal(steps.at(-1)!.damage?.index, base);
  await log.close();
});
