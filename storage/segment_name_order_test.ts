/**
 * A new segment's name must not become durable before the bytes written before it: a crash
 * would leave a torn record followed by a newer segment, which recovery reads as real damage
 * (the node then distrusts its log). Every directory fsync of the log directory makes every name
 * in it durable, so each is checked here: the hard state's, a damage record's removal, a sealed
 * index's, and the log's own flush round when appends roll again while it runs. Each runs over
 * many seeds of torn writes.
 */
import assert from "node:assert/strict";
import { SegmentLog } from "./segment_log.ts";
import { seededRandom, SimFileSystem } from "./sim_file_system.ts";
import { HeldSyncs, makeEntries, ticks } from "./_test_helpers.ts";

const dir = "/node/log";
/** About 3 entries of ~180 bytes per segment. */
const options = { segmentBytesMax: 600, indexIntervalBytes: 128 };
const seeds = 40;

function segmentNames(fs: SimFileSystem): string[] {
  return fs.readDir(dir).filter((name) => name.endsWith(".log")).sort();
}

/** Crashes with torn writes, reopens, and says what the open found if it was not a torn tail. */
async function crashAndReopen(sim: SimFileSystem, seed: number): Promise<string | null> {
  sim.crash({ random: seededRandom(seed), tornWrites: true });
  const log = await SegmentLog.open(dir, { fs: sim.session(), ...options });
  try {
    const { corruptAt, tornTail } = log.recovery;
    const damage = log.damage;
    if (corruptAt !== undefined && tornTail !== true) return `damage: ${corruptAt.reason}`;
    if (damage !== null && !damage.torn) return `damage record: ${damage.detail.reason}`;
    return null;
  } finally {
    await log.close();
  }
}

/**
 * Runs `scenario` on a fresh disk for every seed, then crashes with torn writes and reopens: every
 * seed must recover at most a torn tail.
 */
async function assertEverySeedTorn(scenario: (sim: SimFileSystem) => Promise<void>): Promise<void> {
  const found = new Map<number, string>();
  for (let seed = 1; seed <= seeds; seed++) {
    const sim = new SimFileSystem();
    await scenario(sim);
    const problem = await crashAndReopen(sim, seed);
    if (problem !== null) found.set(seed, problem);
  }
  const list = [...found].map(([seed, what]) => `seed ${seed}: ${what}`);
  assert.deepEqual(list, [], `${found.size} of ${seeds} seeds recovered real damage`);
}

Deno.test("a hard state written after a roll leaves at most a torn tail after a crash", async () => {
  await assertEverySeedTorn(async (sim) => {
    const log = await SegmentLog.open(dir, { fs: sim.session(), ...options });
    await log.appendDurable(makeEntries(1, 2));
    // Across a roll, nothing synced: the new segment's name is not durable yet.
    log.append(makeEntries(3, 4));
    assert.ok(segmentNames(sim).length >= 2, "the appends rolled");
    await log.writeHardState({ term: 1, vote: "node-b", commit: 2 });
  });
});

Deno.test("a hard state write waits for the flush before the newest segment, whatever rolls meanwhile", async () => {
  await assertEverySeedTorn(async (sim) => {
    const fs = new HeldSyncs(sim.session());
    const log = await SegmentLog.open(dir, { fs, ...options });
    await log.appendDurable(makeEntries(1, 2));
    // The hard state's temp file is held at its fsync; a roll happens meanwhile.
    fs.hold(".tmp");
    const written = log.writeHardState({ term: 2, vote: null, commit: 2 });
    await ticks(2);
    log.append(makeEntries(3, 4));
    assert.ok(segmentNames(sim).length >= 2, "the appends rolled");
    fs.release(".tmp");
    await written;
  });
});

Deno.test("a damage record cleared after a roll leaves at most a torn tail after a crash", async () => {
  await assertEverySeedTorn(async (sim) => {
    const log = await SegmentLog.open(dir, { fs: sim.session(), ...options });
    const torn = { index: 1, file: dir, offset: 0, reason: "an interrupted write (test)" };
    await log.noteDamage(torn, { torn: true });
    await log.appendDurable(makeEntries(1, 2));
    // Across a roll, nothing synced: the new segment's name is not durable yet.
    log.append(makeEntries(3, 4));
    assert.ok(segmentNames(sim).length >= 2, "the appends rolled");
    await log.clearDamage();
  });
});

Deno.test("a sealed index written while appends roll again leaves at most a torn tail", async () => {
  await assertEverySeedTorn(async (sim) => {
    const fs = new HeldSyncs(sim.session());
    const log = await SegmentLog.open(dir, { fs, ...options });
    // The first segment is sealed and durable: its index write starts and is held at the temp
    // file's fsync, while appends roll twice more without a sync.
    fs.hold(".tmp");
    await log.appendDurable(makeEntries(1, 4));
    const before = segmentNames(sim).length;
    log.append(makeEntries(5, 6));
    assert.ok(segmentNames(sim).length > before, "the appends rolled");
    fs.release(".tmp");
    for (let i = 0; i < 100 && !sim.readDir(dir).some((n) => n.endsWith(".index")); i++) {
      await ticks(1);
    }
    assert.ok(sim.readDir(dir).some((name) => name.endsWith(".index")), "an index was written");
  });
});

Deno.test("a flush round that syncs the directory while appends roll again leaves at most a torn tail", async () => {
  await assertEverySeedTorn(async (sim) => {
    const fs = new HeldSyncs(sim.session());
    const log = await SegmentLog.open(dir, { fs, ...options });
    await log.appendDurable(makeEntries(1, 2));
    // A roll, then a round that will sync the directory; held at its segments' fsyncs while
    // appends fill the new segment and roll to another.
    log.append(makeEntries(3, 3));
    const before = segmentNames(sim).length;
    fs.hold(".log");
    const synced = log.sync();
    await ticks(2);
    log.append(makeEntries(6, 6));
    assert.ok(segmentNames(sim).length > before, "the appends rolled");
    fs.release(".log");
    await synced;
  });
});

Deno.test("a truncation that removes a segment leaves at most a torn tail, though an unflushed roll came before it", async () => {
  await assertEverySeedTorn(async (sim) => {
    const log = await SegmentLog.open(dir, { fs: sim.session(), ...options });
    await log.appendDurable(makeEntries(1, 2));
    // Two rolls, nothing synced; the cut removes the newest segment (its removal is made durable
    // at once), which must not make the one before it durable ahead of the first's bytes.
    log.append(makeEntries(3, 4));
    const names = segmentNames(sim);
    assert.ok(names.length >= 3, "the appends rolled twice");
    const cut = log.truncateSuffix(Number(names.at(-1)!.slice(0, 20)));
    cut.catch(() => {}); // the crash comes before its flush
  });
});
