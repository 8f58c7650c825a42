import assert from "node:assert/strict";
import type { FileHandle } from "./file_io.ts";
import { ForwardingFileHandle, ForwardingFileSystem } from "./forwarding_file_system.ts";
import { SegmentLog } from "./segment_log.ts";
import { SimFileSystem } from "./sim_file_system.ts";
import { makeEntries } from "./_test_helpers.ts";
import { CorruptLogError } from "./errors.ts";
import { recordBytes } from "./record.ts";
import { segmentFileName } from "./segment.ts";

const dir = "/node/log";
const options = { segmentBytesMax: 1500, indexIntervalBytes: 256 };

for (const kind of ["dirSync", "write"] as const) {
  Deno.test(`a resetTo that fails at a ${kind} leaves the log refusing work, not half reset`, async () => {
    const fs = new SimFileSystem();
    const log = await SegmentLog.open(dir, { fs, ...options });
    await log.appendDurable(makeEntries(1, 30));
    fs.failNext(kind);
    await assert.rejects(log.resetTo(500, 3));
    // Neither the old log (its segments are gone from memory) nor the new one (no log start):
    // nothing may be appended, synced or read.
    for (const next of [31, 501, log.lastIndex + 1]) {
      assert.throws(() => log.append(makeEntries(next, 1)), `append at ${next}`);
    }
    await assert.rejects(async () => await log.sync());
    assert.throws(() => log.entry(1));
    await log.close();
  });
}

/** Fails every truncate of a segment file once `failing` is set. */
class FailingTruncates extends ForwardingFileSystem {
  failing = false;

  protected override wrap(handle: FileHandle): FileHandle {
    const owner = () => this.failing;
    return new class extends ForwardingFileHandle {
      override truncate(lengthBytes: number): void {
        if (owner()) throw new Error("EIO: input/output error (injected truncate failure)");
        super.truncate(lengthBytes);
      }
    }(handle);
  }
}

Deno.test("a truncateSuffix whose truncate fails leaves the log refusing work", async () => {
  const fs = new FailingTruncates(new SimFileSystem());
  const log = await SegmentLog.open(dir, { fs, ...options });
  await log.appendDurable(makeEntries(1, 30));
  fs.failing = true;
  await assert.rejects(log.truncateSuffix(28));
  // The file's end is unknown now: the entries the cut meant to remove must not be served as
  // the log, nor may new ones be appended after them.
  assert.throws(() => log.append(makeEntries(28, 1, { term: 2 })));
  assert.throws(() => log.entry(29));
  await assert.rejects(async () => await log.sync());
  fs.failing = false;
  await log.close();
});

Deno.test("a truncateSuffix whose record before the cut fails its check changes nothing: a lower cut works", async () => {
  const fs = new SimFileSystem();
  const log = await SegmentLog.open(dir, { fs, segmentBytesMax: 1 << 20 });
  await log.appendDurable(makeEntries(1, 30, { payloadBytes: 100 }));
  const size = recordBytes(100);
  fs.flipBit(`${dir}/${segmentFileName(1)}`, 20 * size - 1); // the last byte of entry 20
  await assert.rejects(log.truncateSuffix(21), CorruptLogError);
  // Nothing was cut: the caller (a recovery cutting at damage) walks back and cuts lower.
  assert.equal(log.lastIndex, 30);
  await log.truncateSuffix(20);
  assert.equal(log.lastIndex, 19);
  await log.appendDurable(makeEntries(20, 2, { term: 2 }));
  assert.equal(log.entry(21).term, 2);
  await log.close();
});

Deno.test("sync on a failed log returns a rejected promise instead of throwing", async () => {
  const fs = new SimFileSystem();
  const log = await SegmentLog.open(dir, { fs, ...options });
  await log.appendDurable(makeEntries(1, 3));
  fs.failNext("write");
  assert.throws(() => log.append(makeEntries(4, 1)));
  // Callers chain `.catch` on the promise (`log.sync().catch(...)`): a throw would escape it.
  let synced: Promise<void> | undefined;
  assert.doesNotThrow(() => synced = log.sync());
  await assert.rejects(synced!, /EIO|injected|input\/output/i);
  await log.close();
});

for (const state of ["failed", "closed"] as const) {
  Deno.test(`truncateSuffix, deletePrefix and resetTo on a ${state} log return rejected promises instead of throwing`, async () => {
    const fs = new SimFileSystem();
    const log = await SegmentLog.open(dir, { fs, ...options });
    await log.appendDurable(makeEntries(1, 60)); // several segments
    if (state === "closed") await log.close();
    else {
      fs.failNext("write");
      assert.throws(() => log.append(makeEntries(61, 1)));
    }
    // Callers await them or chain `.catch` (adoptSnapshot, the log writer): a throw escapes that.
    const calls = {
      truncateSuffix: () => log.truncateSuffix(30),
      deletePrefix: () => log.deletePrefix(30),
      resetTo: () => log.resetTo(100, 2),
    };
    for (const [name, call] of Object.entries(calls)) {
      let answer: Promise<void> | undefined;
      assert.doesNotThrow(() => answer = call(), name);
      await assert.rejects(answer!, state === "closed" ? /closed/ : /EIO|input\/output/i, name);
    }
    await log.close();
  });
}

Deno.test("truncateSuffix and resetTo given a bad index return rejected promises and change nothing", async () => {
  const fs = new SimFileSystem();
  const log = await SegmentLog.open(dir, { fs, ...options });
  await log.appendDurable(makeEntries(1, 60));
  await log.deletePrefix(30);
  const first = log.firstIndex;
  const calls = [
    () => log.truncateSuffix(first - 1), // before the log
    () => log.truncateSuffix(first), // every entry, with no log start to keep the last term
    () => log.resetTo(-1, 2),
    () => log.resetTo(100, 1.5),
  ];
  for (const call of calls) {
    let answer: Promise<void> | undefined;
    assert.doesNotThrow(() => answer = call());
    await assert.rejects(answer!);
  }
  assert.deepEqual([log.firstIndex, log.lastIndex], [first, 60]);
  await log.appendDurable(makeEntries(61, 1));
  await log.close();
});

/** Fails the removal of the file at `failing` (an I/O error, the file stays). */
class FailingRemoves extends ForwardingFileSystem {
  failing: string | null = null;

  override remove(path: string): void {
    if (path === this.failing) throw new Error("EIO: input/output error (injected remove failure)");
    super.remove(path);
  }
}

function segmentBases(fs: ForwardingFileSystem): number[] {
  return fs.readDir(dir).filter((name) => name.endsWith(".log"))
    .map((name) => Number(name.slice(0, 20))).sort((a, b) => a - b);
}

Deno.test("a deletePrefix whose remove fails keeps that segment, as on disk, and the next one removes it", async () => {
  const fs = new FailingRemoves(new SimFileSystem());
  const log = await SegmentLog.open(dir, { fs, ...options });
  await log.appendDurable(makeEntries(1, 60));
  const bases = segmentBases(fs);
  assert.ok(bases.length >= 5, `${bases.length} segments`);
  fs.failing = `${dir}/${segmentFileName(bases[1])}`;
  await assert.rejects(log.deletePrefix(bases[3]), /injected remove failure/);
  // Oldest first: the first segment went, the one whose file stays still starts the log (on
  // disk and in memory), and everything after it stays.
  assert.deepEqual(segmentBases(fs), bases.slice(1));
  assert.equal(log.firstIndex, bases[1]);
  assert.equal(log.entry(bases[1]).index, bases[1]);
  // The log keeps working, and the next compaction removes what this one could not.
  await log.appendDurable(makeEntries(61, 2));
  fs.failing = null;
  await log.deletePrefix(bases[3]);
  assert.deepEqual(segmentBases(fs).slice(0, bases.length - 3), bases.slice(3));
  assert.equal(log.firstIndex, bases[3]);
  await log.close();
  const reopened = await SegmentLog.open(dir, { fs, ...options });
  assert.equal(reopened.firstIndex, bases[3]);
  assert.equal(reopened.lastIndex, 62);
  assert.equal(reopened.entry(bases[3]).index, bases[3]);
  await reopened.close();
});

Deno.test("a truncateSuffix whose segment remove fails leaves the log refusing work", async () => {
  const fs = new FailingRemoves(new SimFileSystem());
  const log = await SegmentLog.open(dir, { fs, ...options });
  await log.appendDurable(makeEntries(1, 60));
  const bases = segmentBases(fs);
  fs.failing = `${dir}/${segmentFileName(bases.at(-2)!)}`;
  await assert.rejects(log.truncateSuffix(bases.at(-2)!), /injected remove failure/);
  // The newest segment's removal is not durable and the one whose remove failed still holds
  // entries the cut was removing: an append after them, synced before the directory, would
  // leave overlapping segments after a crash. Nothing more is taken until the log is reopened.
  assert.throws(() => log.append(makeEntries(log.lastIndex + 1, 1, { term: 2 })));
  await assert.rejects(log.sync());
  fs.failing = null;
  await log.close();
  const reopened = await SegmentLog.open(dir, { fs, ...options });
  assert.equal(reopened.recovery.corruptAt, undefined);
  await reopened.truncateSuffix(bases.at(-2)!);
  assert.equal(reopened.lastIndex, bases.at(-2)! - 1);
  await reopened.close();
});
