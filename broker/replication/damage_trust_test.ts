import assert from "node:assert/strict";
import type { DamageRecord, LogEntry, RecoveryReport } from "../../storage/mod.ts";
import { SegmentLog, SimFileSystem } from "../../storage/mod.ts";
import { type DamagedLog, distrustsDamage } from "./damage_trust.ts";
import type { SnapshotContainer } from "./snapshot_container.ts";

const entry = (index: number, term = 3): LogEntry => ({
  index,
  term,
  timestamp: index,
  type: 0,
  payload: new Uint8Array(1),
});

/** Snapshot 20 embedding entries 12..20 (term 3). */
const snapshot: SnapshotContainer = {
  index: 20,
  term: 3,
  config: { voters: [], learners: [] },
  lowestReferencedIndex: 12,
  machine: new Uint8Array(),
  entries: Array.from({ length: 9 }, (_, i) => entry(12 + i)),
};

/**
 * The log an interrupted install leaves: reset to 11 (the term of entry 12), this open's torn
 * cut at 16; `change` varies it.
 */
function damagedLog(change: {
  cutAt?: number;
  torn?: boolean;
  logStart?: { index: number; term: number };
  recovery?: Partial<RecoveryReport>;
} = {}): DamagedLog {
  const cutAt = change.cutAt ?? 16;
  const torn = change.torn ?? true;
  const detail = { index: cutAt, file: "/log/x.log", offset: 100, reason: "incomplete record" };
  const damage: DamageRecord = { term: 3, torn, detail };
  return {
    damage,
    recovery: {
      segments: 1,
      entries: cutAt - 12,
      truncatedBytes: 10,
      corruptAt: detail,
      tornTail: torn,
      ...change.recovery,
    },
    logStart: change.logStart ?? { index: 11, term: 3 },
    lastIndex: cutAt - 1,
  };
}

function distrusts(log: DamagedLog, protectedIndex = 20, from = snapshot): boolean {
  return distrustsDamage(log, { protectedIndex, snapshot: from }, () => {});
}

Deno.test("a torn cut in entries the snapshot embeds, in the log reset to take them, is trusted", () => {
  assert.equal(distrusts(damagedLog()), false);
  assert.equal(distrusts(damagedLog({ cutAt: 12 })), false, "the first embedded entry torn");
  assert.equal(distrusts(damagedLog({ cutAt: 20 })), false, "the snapshot's own entry torn");
  assert.equal(distrusts(damagedLog({ cutAt: 21 }), 20), false, "past the snapshot: as always");
});

Deno.test("a torn cut the snapshot does not fully re-supply is still damage", async (t) => {
  await t.step("entries above the snapshot up to the persisted commit are lost", () => {
    assert.equal(distrusts(damagedLog(), 25), true);
  });
  await t.step("the cut is below the first embedded entry", () => {
    assert.equal(distrusts(damagedLog({ cutAt: 11, logStart: { index: 10, term: 3 } })), true);
  });
  await t.step("the log was not reset to the embedded entries (an older log)", () => {
    assert.equal(distrusts(damagedLog({ logStart: { index: 0, term: 0 } })), true);
    assert.equal(distrusts(damagedLog({ logStart: { index: 11, term: 2 } })), true);
  });
  await t.step("the snapshot embeds no entries", () => {
    assert.equal(distrusts(damagedLog(), 20, { ...snapshot, entries: [] }), true);
  });
  await t.step("a damage record from before this open is merged into the cut", () => {
    assert.equal(distrusts(damagedLog({ recovery: { earlierDamage: true } })), true);
  });
  await t.step("the record is not this open's cut", () => {
    assert.equal(distrusts(damagedLog({ recovery: { corruptAt: undefined } })), true);
    assert.equal(distrusts(damagedLog({ recovery: { tornTail: false } })), true);
  });
  await t.step("the cut was not torn", () => {
    assert.equal(distrusts(damagedLog({ torn: false })), true);
    assert.equal(distrusts(damagedLog({ torn: false, cutAt: 25 })), true);
  });
});

Deno.test("without a snapshot's entries, a torn cut is judged against the commit and snapshot as before", () => {
  const bare = { ...snapshot, entries: [] };
  assert.equal(distrusts(damagedLog({ cutAt: 21 }), 20, bare), false);
  assert.equal(distrusts(damagedLog({ cutAt: 20 }), 20, bare), true);
  assert.equal(distrusts({ ...damagedLog(), damage: null }, 20, bare), false);
});

Deno.test("a torn cut above an earlier torn cut not yet repaired is judged at the earlier one", async () => {
  // The first open cuts a torn record at 10, at the persisted commit: the node distrusts its log
  // and, following a leader, takes entries again; a crash then tears the new tail at 16, above
  // the commit persisted since. Judged by that cut alone it would be an unacknowledged tail, and
  // the node would vote again although nobody repaired what the first cut took.
  const fs = new SimFileSystem();
  const bare = { ...snapshot, index: 0, entries: [] };
  const judge = async () => {
    const log = await SegmentLog.open("/log", { fs });
    const { commit } = log.readHardState();
    const verdict = distrustsDamage(log, { protectedIndex: commit, snapshot: bare }, () => {});
    return { log, verdict };
  };
  const first = await SegmentLog.open("/log", { fs });
  await first.appendDurable(Array.from({ length: 10 }, (_, i) => entry(1 + i)));
  await first.writeHardState({ term: 3, vote: null, commit: 10 });
  await first.close();
  const path = `/log/${fs.readDir("/log").find((name) => name.endsWith(".log"))}`;
  const handle = fs.open(path);
  handle.truncate(handle.size() - 5); // entry 10 torn
  handle.close();
  const second = await judge();
  assert.equal(second.log.lastIndex, 9);
  assert.equal(second.verdict, true, "a torn cut at the persisted commit");
  await second.log.appendDurable(Array.from({ length: 6 }, (_, i) => entry(10 + i, 4)));
  await second.log.writeHardState({ term: 4, vote: null, commit: 12 });
  await second.log.close();
  fs.appendRaw(path, new Uint8Array(64)); // a torn write of entry 16
  const third = await judge();
  assert.equal(third.log.recovery.corruptAt?.index, 16);
  assert.equal(third.log.lastIndex, 15);
  assert.equal(third.verdict, true, "the first cut is still not repaired");
  assert.equal(third.log.damage?.detail.index, 10);
  await third.log.close();
});

Deno.test("a torn cut at an unknown index is distrusted, whatever the commit", () => {
  for (const protectedIndex of [0, 20]) {
    const log = damagedLog({ cutAt: 25 });
    const { index: _, ...unknown } = log.damage!.detail;
    const warnings: string[] = [];
    const distrusted = distrustsDamage(
      { ...log, damage: { ...log.damage!, detail: unknown } },
      { protectedIndex, snapshot: { ...snapshot, entries: [] } },
      (line) => warnings.push(line),
    );
    // Was: counted as a cut past the last entry, a harmless tail.
    assert.equal(distrusted, true, `protected ${protectedIndex}`);
    assert.deepEqual(warnings, [
      "LOG DAMAGED: incomplete record at an unknown entry (/log/x.log@100), perhaps below the " +
      "persisted commit",
    ]);
  }
});
