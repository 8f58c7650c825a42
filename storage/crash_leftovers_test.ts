import assert from "node:assert/strict";
import { joinPath } from "./file_io.ts";
import { ForwardingFileSystem } from "./forwarding_file_system.ts";
import { SegmentLog } from "./segment_log.ts";
import { SimFileSystem } from "./sim_file_system.ts";
import { makeEntries } from "./_test_helpers.ts";

const dir = "/node/log";
const options = { segmentBytesMax: 600, indexIntervalBytes: 128 };

/** A closed log of entries 1–12 over several segments; its segment files, oldest first. */
async function threeOrMoreSegments(fs: SimFileSystem): Promise<string[]> {
  const log = await SegmentLog.open(dir, { fs, ...options });
  for (let index = 1; index <= 12; index += 3) await log.appendDurable(makeEntries(index, 3));
  await log.close();
  const segments = fs.readDir(dir).filter((name) => name.endsWith(".log")).sort();
  assert.ok(segments.length >= 3, `expected three segments or more, got ${segments}`);
  return segments;
}

/** Makes `name` durably hold `bytes` zero bytes (a name synced before any of its data). */
async function blank(fs: SimFileSystem, name: string, bytes: number): Promise<void> {
  const handle = fs.open(joinPath(dir, name));
  handle.truncate(0);
  if (bytes > 0) handle.writeSync(new Uint8Array(bytes));
  await handle.syncData();
  handle.close();
}

Deno.test("segments a crash left blank at the end of the log are its end, not damage", async () => {
  for (const bytes of [0, 300]) {
    const fs = new SimFileSystem();
    const segments = await threeOrMoreSegments(fs);
    const [, second, ...rest] = segments;
    for (const name of [second, ...rest]) await blank(fs, name, bytes);
    const log = await SegmentLog.open(dir, { fs, ...options });
    assert.equal(log.recovery.corruptAt, undefined, `blank tail of ${bytes} bytes`);
    assert.equal(log.firstIndex, 1);
    assert.equal(log.lastIndex, Number(second.slice(0, 20)) - 1);
    assert.equal(log.damage, null);
    for (const name of [second, ...rest]) assert.ok(!fs.readDir(dir).includes(name));
    // The log goes on from there, into new segments.
    await log.appendDurable(makeEntries(log.lastIndex + 1, 6, { term: 2 }));
    await log.close();
    const reopened = await SegmentLog.open(dir, { fs, ...options });
    assert.equal(reopened.recovery.corruptAt, undefined);
    await reopened.close();
  }
});

Deno.test("a blank segment followed by one with data is a gap: damage", async () => {
  const fs = new SimFileSystem();
  const [first, second] = await threeOrMoreSegments(fs);
  await blank(fs, second, 0);
  const log = await SegmentLog.open(dir, { fs, ...options });
  assert.equal(log.recovery.corruptAt?.reason, "segment does not continue the log");
  assert.equal(log.recovery.tornTail, false);
  assert.equal(log.lastIndex, Number(second.slice(0, 20)) - 1);
  assert.ok(fs.readDir(dir).includes(first));
  await log.close();
});

/**
 * Runs `change` on a fresh three-segment log with a power cut armed after 0, 1, 2… file
 * operations until one run completes; after each cut the reopened log must find no damage and
 * keep every entry before `from`.
 */
async function crashAtEveryPoint(
  from: number,
  change: (log: SegmentLog, fs: SimFileSystem) => Promise<void>,
): Promise<void> {
  for (let crashAt = 0; crashAt < 40; crashAt++) {
    const fs = new SimFileSystem();
    await threeOrMoreSegments(fs);
    const log = await SegmentLog.open(dir, { fs, ...options });
    fs.crashAfter(crashAt);
    let done = false;
    try {
      await change(log, fs);
      done = true;
    } catch (error) {
      if ((error as Error).name !== "SimulatedCrash") throw error;
    }
    fs.crash();
    const reopened = await SegmentLog.open(dir, { fs, ...options });
    assert.equal(reopened.recovery.corruptAt, undefined, `crash after ${crashAt} operations`);
    assert.ok(reopened.lastIndex >= from - 1, `crash after ${crashAt}: entries before ${from}`);
    await reopened.close();
    if (done) return;
  }
  assert.fail("the change never completed");
}

Deno.test("a crash at any point of a truncation across segments leaves no damage to find", async () => {
  const layout = new SimFileSystem();
  const segments = await threeOrMoreSegments(layout);
  const secondBase = Number(segments[1].slice(0, 20));
  const thirdBase = Number(segments[2].slice(0, 20));
  assert.ok(thirdBase - secondBase >= 2, "the second segment holds two entries or more");
  const from = secondBase + 1; // inside the second segment: it is cut, later ones removed
  await crashAtEveryPoint(from, async (log) => {
    await log.truncateSuffix(from);
    await log.appendDurable(makeEntries(from, 4, { term: 2 }));
  });
});

Deno.test("a crash after a truncation at a segment boundary and an append into the segment before it leaves no damage", async () => {
  // Found by a simulation sweep (seed 51877): a new leader's small entry took the truncated
  // index's place at the end of the segment before, and a crash in the directory sync of the
  // flush that made it durable left the removed segment's name: a segment starting at an index
  // the one before already holds, read as damage.
  const layout = new SimFileSystem();
  const segments = await threeOrMoreSegments(layout);
  const from = Number(segments[2].slice(0, 20)); // the third segment and later ones removed
  let sawBoundaryAppend = false;
  await crashAtEveryPoint(from, async (log, fs) => {
    // As a follower's Ready writes them: the cut and the new entry in one flush round.
    await Promise.all([
      log.truncateSuffix(from),
      log.appendDurable(makeEntries(from, 1, { term: 2, payloadBytes: 1 })),
    ]);
    sawBoundaryAppend ||= !fs.readDir(dir).includes(segments[2]);
  });
  assert.ok(sawBoundaryAppend, "the new entry went into the segment before the cut");
});

/** Records, in order, the directories made and the directories synced. */
class DirectoryEvents extends ForwardingFileSystem {
  readonly events: string[] = [];

  override mkdirp(path: string): void {
    this.events.push(`mkdir ${path}`);
    super.mkdirp(path);
  }

  override syncDir(path: string): Promise<void> {
    this.events.push(`sync ${path}`);
    return super.syncDir(path);
  }

  override syncDirSync(path: string): void {
    this.events.push(`sync ${path}`);
    super.syncDirSync(path);
  }
}

Deno.test("a log directory the open creates is synced into its parent, as is every parent it creates", async () => {
  const fs = new DirectoryEvents(new SimFileSystem());
  fs.mkdirp("/srv");
  fs.events.length = 0;
  const log = await SegmentLog.open("/srv/cmqd/log", { fs });
  await log.appendDurable(makeEntries(1, 2));
  await log.close();
  // Without these, a power cut could take the new directories away, synced segments and all.
  const madeAt = fs.events.indexOf("mkdir /srv/cmqd/log");
  assert.ok(madeAt >= 0);
  assert.deepEqual(fs.events.slice(madeAt + 1, madeAt + 3), ["sync /srv", "sync /srv/cmqd"]);
  fs.events.length = 0;
  const again = await SegmentLog.open("/srv/cmqd/log", { fs });
  await again.close();
  // An existing directory is neither made nor synced into its parent again; the open syncs the
  // log directory's own entries (what a killed process left unsynced there is then on disk).
  assert.deepEqual(fs.events, ["sync /srv/cmqd/log"]);
});
