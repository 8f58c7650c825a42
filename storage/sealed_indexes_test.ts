import assert from "node:assert/strict";
import type { LogEntry } from "./record.ts";
import { SegmentLog } from "./segment_log.ts";
import { seededRandom, SimFileSystem } from "./sim_file_system.ts";
import {
  decodeSegmentIndex,
  encodeSegmentIndex,
  segmentIndexFileName,
  type SegmentSummary,
} from "./segment_index_file.ts";
import { segmentFileName } from "./segment.ts";
import { makeEntries, ReadBufferRecordingFileSystem } from "./_test_helpers.ts";

const dir = "/node/log";
/** About 8 entries of ~180 bytes per segment, index points every 256 bytes. */
const options = { segmentBytesMax: 1500, indexIntervalBytes: 256 };
const segmentPath = (base: number) => `${dir}/${segmentFileName(base)}`;
const indexPath = (base: number) => `${dir}/${segmentIndexFileName(base)}`;

/** Entries over several terms with timestamps that sometimes repeat. */
function history(count: number): LogEntry[] {
  const entries: LogEntry[] = [];
  for (let index = 1; index <= count; index++) {
    const [entry] = makeEntries(index, 1, {
      term: 1 + Math.floor(index / 37),
      timestampOf: (i) => 1_000_000 + Math.floor(i / 3) * 10,
    });
    entries.push(entry);
  }
  return entries;
}

/** A closed log of `count` entries over many segments, every sealed one indexed. */
async function writtenLog(fs: SimFileSystem, count = 120): Promise<LogEntry[]> {
  const entries = history(count);
  const log = await SegmentLog.open(dir, { fs, ...options });
  for (let from = 0; from < entries.length; from += 10) {
    await log.appendDurable(entries.slice(from, from + 10));
  }
  await log.close();
  return entries;
}

function segmentBases(fs: SimFileSystem): number[] {
  return fs.readDir(dir).filter((name) => name.endsWith(".log")).map((name) =>
    Number(name.slice(0, 20))
  );
}

/** Everything a reader can ask the log matches `entries`. */
function assertServes(log: SegmentLog, entries: LogEntry[]): void {
  assert.equal(log.firstIndex, 1);
  assert.equal(log.lastIndex, entries.length);
  assert.equal(log.lastTerm, entries.at(-1)!.term);
  assert.deepEqual(log.entries(1, entries.length + 1), entries);
  for (const entry of entries) {
    assert.equal(log.term(entry.index), entry.term);
    assert.deepEqual(log.entry(entry.index), entry);
    const first = entries.find((e) => e.timestamp >= entry.timestamp)!;
    assert.equal(log.indexAtOrAfterTime(entry.timestamp), first.index);
  }
}

Deno.test("an index file round-trips every field of a segment's summary", () => {
  const summary: SegmentSummary = {
    baseIndex: 2 ** 40 + 7,
    lastIndex: 2 ** 40 + 900,
    lastTerm: 2 ** 35,
    firstTimestamp: 1_700_000_000_000.25,
    lastTimestamp: 1_700_000_000_999.5,
    sizeBytes: 64 * 1024 * 1024,
    lastRecordPosition: 64 * 1024 * 1024 - 300,
    lastRecordCrc: 0xdeadbeef,
    offsetPoints: {
      relativeIndexes: Uint32Array.of(0, 10, 500),
      positions: Uint32Array.of(0, 4100, 1_000_000),
    },
    timePoints: {
      timestamps: Float64Array.of(1_700_000_000_000.25, 1_700_000_000_500),
      relativeIndexes: Uint32Array.of(0, 500),
    },
    termRuns: { starts: [2 ** 40 + 7, 2 ** 40 + 100], terms: [2 ** 35 - 1, 2 ** 35] },
  };
  const bytes = encodeSegmentIndex(summary);
  assert.deepEqual(decodeSegmentIndex(bytes), summary);
  for (const offset of [0, 9, 60, 85, bytes.length - 1]) {
    const flipped = bytes.slice();
    flipped[offset] ^= 0x04;
    assert.deepEqual(decodeSegmentIndex(flipped), { refused: "bad crc" }, `flip at ${offset}`);
  }
  assert.deepEqual(decodeSegmentIndex(bytes.subarray(0, 40)), {
    refused: "shorter than its header",
  });
});

Deno.test("sealed segments are indexed when they roll and restored from the index without a scan", async () => {
  const fs = new SimFileSystem();
  const entries = await writtenLog(fs);
  const bases = segmentBases(fs);
  assert.ok(bases.length >= 8, `want many segments, got ${bases.length}`);
  for (const base of bases.slice(0, -1)) assert.ok(fs.exists(indexPath(base)), `index ${base}`);
  assert.equal(fs.exists(indexPath(bases.at(-1)!)), false, "the active segment has no index");

  const readBytesBefore = fs.stats.readBytes;
  const log = await SegmentLog.open(dir, { fs, ...options });
  const readBytes = fs.stats.readBytes - readBytesBefore;
  const last = fs.fileBytes(segmentPath(bases.at(-1)!)).length;
  // The active segment is scanned; of each sealed one only its index and last record are read.
  assert.ok(readBytes < last + (bases.length - 1) * 400, `open read ${readBytes} bytes`);
  assert.equal(log.recovery.indexedSegments, bases.length - 1);
  assert.equal(log.recovery.scannedSegments, 1);
  assertServes(log, entries);
  await log.close();
});

Deno.test("a data directory without index files opens by scanning and is indexed for the next open", async () => {
  const fs = new SimFileSystem();
  const entries = await writtenLog(fs);
  const bases = segmentBases(fs);
  for (const base of bases) fs.remove(indexPath(base));
  const log = await SegmentLog.open(dir, { fs, ...options });
  assert.equal(log.recovery.scannedSegments, bases.length);
  assert.equal(log.recovery.indexedSegments, undefined);
  assertServes(log, entries);
  await log.close();
  for (const base of bases.slice(0, -1)) assert.ok(fs.exists(indexPath(base)), `index ${base}`);
  const again = await SegmentLog.open(dir, { fs, ...options });
  assert.equal(again.recovery.indexedSegments, bases.length - 1);
  assertServes(again, entries);
  await again.close();
});

/** Opens the log after `damage` and returns it with the recovery report. */
async function openAfter(fs: SimFileSystem, damage: (bases: number[]) => void) {
  damage(segmentBases(fs));
  return await SegmentLog.open(dir, { fs, ...options });
}

function rewriteIndex(fs: SimFileSystem, base: number, change: (summary: SegmentSummary) => void) {
  const summary = decodeSegmentIndex(fs.fileBytes(indexPath(base))) as SegmentSummary;
  change(summary);
  fs.remove(indexPath(base));
  fs.open(indexPath(base), { create: true }).writeSync(encodeSegmentIndex(summary));
}

Deno.test("an index that does not check out is not trusted: the segment is scanned and indexed again", async (t) => {
  const cases: Array<[string, (fs: SimFileSystem, bases: number[]) => void]> = [
    ["a flipped bit in the index file", (fs, bases) => fs.flipBit(indexPath(bases[2]), 30)],
    ["a truncated index file", (fs, bases) => {
      const bytes = fs.fileBytes(indexPath(bases[2]));
      fs.remove(indexPath(bases[2]));
      fs.open(indexPath(bases[2]), { create: true }).writeSync(bytes.subarray(0, 50));
    }],
    ["an index claiming another length", (fs, bases) =>
      rewriteIndex(fs, bases[2], (summary) => {
        summary.sizeBytes += 1;
      })],
    ["an index of another segment", (fs, bases) => {
      fs.remove(indexPath(bases[2]));
      fs.open(indexPath(bases[2]), { create: true }).writeSync(fs.fileBytes(indexPath(bases[1])));
    }],
    ["an index naming another last term", (fs, bases) =>
      rewriteIndex(fs, bases[2], (summary) => {
        summary.lastTerm += 1;
        summary.termRuns.terms[summary.termRuns.terms.length - 1] += 1;
      })],
    // A rewind by time uses the time points at once: they are checked before the index is
    // trusted, not only by the scrub that reads the segment later.
    [
      "an index without a time point at its first record",
      (fs, bases) =>
        rewriteIndex(fs, bases[2], (summary) => {
          const { timestamps, relativeIndexes } = summary.timePoints;
          assert.ok(timestamps.length >= 2);
          summary.timePoints = {
            timestamps: timestamps.slice(1),
            relativeIndexes: relativeIndexes.slice(1),
          };
        }),
    ],
    [
      "an index whose first time point is not its first timestamp",
      (fs, bases) =>
        rewriteIndex(fs, bases[2], (summary) => {
          summary.timePoints.timestamps[0] -= 1;
        }),
    ],
    [
      "an index with a time point past its last record",
      (fs, bases) =>
        rewriteIndex(fs, bases[2], (summary) => {
          const { timestamps, relativeIndexes } = summary.timePoints;
          summary.timePoints = {
            timestamps: Float64Array.of(...timestamps, summary.lastTimestamp + 10),
            relativeIndexes: Uint32Array.of(
              ...relativeIndexes,
              summary.lastIndex - summary.baseIndex + 1,
            ),
          };
        }),
    ],
    [
      "an index with a time point later than its last timestamp",
      (fs, bases) =>
        rewriteIndex(fs, bases[2], (summary) => {
          const times = summary.timePoints.timestamps;
          times[times.length - 1] = summary.lastTimestamp + 10;
        }),
    ],
    [
      "an index with a time point between its index points",
      (fs, bases) =>
        rewriteIndex(fs, bases[2], (summary) => {
          const points = new Set(summary.offsetPoints.relativeIndexes);
          const relative = summary.timePoints.relativeIndexes;
          for (let i = 1; i < relative.length; i++) {
            for (let r = relative[i] - 1; r > relative[i - 1]; r--) {
              if (points.has(r)) continue;
              relative[i] = r;
              return;
            }
          }
          assert.fail("no index without a point between two time points");
        }),
    ],
  ];
  for (const [name, damage] of cases) {
    await t.step(name, async () => {
      const fs = new SimFileSystem();
      const entries = await writtenLog(fs);
      const bases = segmentBases(fs);
      const log = await openAfter(fs, () => damage(fs, bases));
      assert.equal(log.recovery.scannedSegments, 2);
      assert.equal(log.recovery.corruptAt, undefined);
      assertServes(log, entries);
      await log.close();
      const again = await SegmentLog.open(dir, { fs, ...options });
      assert.equal(again.recovery.scannedSegments, 1, "the index was written again");
      await again.close();
    });
  }
});

Deno.test("a sealed segment cut short or changed at its end under a valid index is scanned and cut", async (t) => {
  await t.step("truncated segment", async () => {
    const fs = new SimFileSystem();
    const entries = await writtenLog(fs);
    const bases = segmentBases(fs);
    const bytes = fs.fileBytes(segmentPath(bases[3]));
    fs.remove(segmentPath(bases[3]));
    fs.open(segmentPath(bases[3]), { create: true }).writeSync(bytes.subarray(0, bytes.length - 7));
    const log = await SegmentLog.open(dir, { fs, ...options });
    assert.equal(log.recovery.corruptAt?.reason, "incomplete record");
    assert.equal(log.lastIndex, bases[4] - 2, "cut before the torn last record of the segment");
    assert.deepEqual(log.entries(1, log.lastIndex + 1), entries.slice(0, log.lastIndex));
    await log.close();
  });
  await t.step("a bit flipped in the last record", async () => {
    const fs = new SimFileSystem();
    await writtenLog(fs);
    const bases = segmentBases(fs);
    const length = fs.fileBytes(segmentPath(bases[3])).length;
    fs.flipBit(segmentPath(bases[3]), length - 5);
    const log = await SegmentLog.open(dir, { fs, ...options });
    assert.equal(log.recovery.corruptAt?.index, bases[4] - 1);
    assert.equal(log.recovery.corruptAt?.reason, "bad crc");
    assert.equal(log.damage?.torn, false);
    await log.close();
  });
});

Deno.test("a truncation into a sealed segment removes its index with the truncation", async () => {
  const fs = new SimFileSystem();
  const entries = await writtenLog(fs);
  const bases = segmentBases(fs);
  const log = await SegmentLog.open(dir, { fs, ...options });
  const from = bases[3] + 2;
  await log.truncateSuffix(from);
  assert.equal(fs.exists(indexPath(bases[3])), false);
  // Refilled with a newer term to the very same length: the old index must not describe it.
  const refill = entries.slice(from - 1, bases[4]).map((entry) => ({ ...entry, term: 9 }));
  await log.appendDurable(refill);
  fs.crash();
  const reopened = await SegmentLog.open(dir, { fs, ...options });
  assert.equal(reopened.lastIndex, bases[4]);
  assert.equal(reopened.term(from), 9);
  assert.equal(reopened.term(from - 1), entries[from - 2].term);
  await reopened.close();
});

Deno.test("a crash at every write of the index files leaves a log that serves exactly what was written", async () => {
  const entries = history(60);
  const workload = async (fs: SimFileSystem, acknowledged: { upTo: number }) => {
    const log = await SegmentLog.open(dir, { fs, ...options });
    for (let from = 0; from < entries.length; from += 6) {
      await log.appendDurable(entries.slice(from, from + 6));
      acknowledged.upTo = from + 6;
    }
    acknowledged.upTo = Math.min(acknowledged.upTo, 44); // withdrawn before the cut starts
    await log.truncateSuffix(45);
    await log.appendDurable(entries.slice(44, 50));
    acknowledged.upTo = 50;
    await log.close();
  };
  const clean = new SimFileSystem();
  await workload(clean, { upTo: 0 });
  const operations = clean.stats.operations;
  assert.ok(segmentBases(clean).length >= 5);
  for (let crashAt = 0; crashAt <= operations; crashAt++) {
    for (const tornWrites of [false, true]) {
      const fs = new SimFileSystem();
      const acknowledged = { upTo: 0 };
      fs.crashAfter(crashAt);
      await workload(fs, acknowledged).catch((error) => {
        if (error.name !== "SimulatedCrash") throw error;
      });
      fs.crash({ random: seededRandom(crashAt), tornWrites });
      const label = `crash after ${crashAt}${tornWrites ? ", torn" : ""}`;
      for (let open = 0; open < 2; open++) {
        const log = await SegmentLog.open(dir, { fs, ...options });
        assert.ok(log.lastIndex >= acknowledged.upTo, `${label}: acknowledged entry lost`);
        if (log.lastIndex > 0) assertServes(log, entries.slice(0, log.lastIndex));
        await log.close();
      }
    }
  }
});

Deno.test("damage a read finds under a trusted index is recorded, and the next open reads every segment and cuts it", async () => {
  const fs = new SimFileSystem();
  await writtenLog(fs);
  const bases = segmentBases(fs);
  const log = await SegmentLog.open(dir, { fs, ...options });
  const path = segmentPath(bases[2]);
  const firstLength = new DataView(fs.fileBytes(path).buffer).getUint32(0, true) + 4;
  fs.flipBit(path, firstLength + 40); // the payload of the segment's second record
  assert.throws(() => log.entry(bases[2] + 1), { name: "CorruptLogError" });
  await log.close(); // waits for the damage record, as the process does before it exits
  assert.equal(log.damage?.torn, false);
  fs.crash();
  const reopened = await SegmentLog.open(dir, { fs, ...options });
  assert.equal(reopened.recovery.indexedSegments, undefined, "recorded damage: nothing trusted");
  assert.equal(reopened.recovery.corruptAt?.index, bases[2] + 1);
  assert.equal(reopened.lastIndex, bases[2]);
  await reopened.close();
});

Deno.test("an open checks every restored segment's last record in one buffer it reuses", async () => {
  const sim = new SimFileSystem();
  await writtenLog(sim);
  const sealed = segmentBases(sim).length - 1;
  const fs = new ReadBufferRecordingFileSystem(sim);
  fs.reset();
  const log = await SegmentLog.open(dir, { fs, ...options });
  assert.equal(log.recovery.indexedSegments, sealed);
  assert.ok(sealed >= 8 && fs.reads > sealed, `${sealed} sealed segments, ${fs.reads} reads`);
  // The last-record checks' shared buffer, and the scan's and the active segment's own.
  assert.ok(fs.buffers.size <= 3, `${fs.reads} reads landed in ${fs.buffers.size} buffers`);
  await log.close();
});
