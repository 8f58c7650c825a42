/**
 * A received container is refused when it could not be installed, whatever its CRC says: the
 * checker (`snapshot_check.ts`) and the sink that runs it (`snapshot_sink.ts`).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { crc32c, type LogEntry, SimFileSystem } from "../../storage/mod.ts";
import type { ConfigState, LogIndex, NodeId, Term } from "../../raft/mod.ts";
import {
  decodeSnapshotContainer,
  encodeSnapshotContainer,
  type SnapshotContainer,
} from "./snapshot_container.ts";
import { ContainerCheck } from "./snapshot_check.ts";
import { FileSnapshotSink } from "./snapshot_sink.ts";

const config: ConfigState = { voters: ["n1", "n2", "n3"] as NodeId[], learners: [] };
const dir = "/data/snapshots";

function entry(index: number, term: number, payload = `body ${index}`): LogEntry {
  return { index, term, timestamp: 1_000 + index, type: 16, payload: enc(payload) };
}

function enc(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

function container(overrides: Partial<SnapshotContainer> = {}): SnapshotContainer {
  return {
    index: 9,
    term: 2,
    config,
    lowestReferencedIndex: 6,
    machine: enc("machine image"),
    entries: [entry(6, 1), entry(7, 2), entry(8, 2), entry(9, 2)],
    ...overrides,
  };
}

/** The problem the checker finds in `bytes`, fed in pieces cut at `cuts`. */
function check(bytes: Uint8Array, cuts: number[] = [], expected = container()): string | null {
  const checker = new ContainerCheck(expected, bytes.length);
  let at = 0;
  for (const cut of [...cuts.filter((c) => c < bytes.length)].sort((a, b) => a - b)) {
    checker.push(bytes.subarray(at, Math.max(at, cut)));
    at = Math.max(at, cut);
  }
  checker.push(bytes.subarray(at));
  return checker.problem();
}

/** Entries encoded without `encodeSnapshotContainer`'s own checks (the bytes a peer may send). */
function rawContainer(entries: LogEntry[]): Uint8Array {
  const base = encodeSnapshotContainer(container({ entries: [] }));
  const parts = [base.subarray(0, base.length - 4), u32(entries.length)];
  for (const item of entries) {
    const header = new Uint8Array(29);
    const view = new DataView(header.buffer);
    view.setFloat64(0, item.term, true);
    view.setFloat64(8, item.index, true);
    view.setFloat64(16, item.timestamp, true);
    view.setUint8(24, item.type);
    view.setUint32(25, item.payload.length, true);
    parts.push(header, item.payload);
  }
  return concat(parts);
}

function u32(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value, true);
  return bytes;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

Deno.test("a sound container passes, however its bytes are cut", () => {
  const bytes = encodeSnapshotContainer(container());
  fc.assert(
    fc.property(fc.array(fc.nat({ max: bytes.length }), { maxLength: 12 }), (cuts) => {
      assert.equal(check(bytes, cuts), null);
    }),
  );
  assert.equal(check(encodeSnapshotContainer(container({ entries: [] }))), null);
  const empty = container({ machine: new Uint8Array(0), entries: [entry(9, 2, "")] });
  assert.equal(check(encodeSnapshotContainer(empty), [], empty), null);
});

Deno.test("a container that is not the announced snapshot is refused", () => {
  const bytes = (overrides: Partial<SnapshotContainer>) =>
    encodeSnapshotContainer(container({ entries: [], ...overrides }));
  assert.match(check(bytes({ index: 8 }))!, /index 8 term 2, its chunks announced 9 term 2/);
  assert.match(check(bytes({ term: 1 }))!, /index 9 term 1/);
  const other = { voters: ["n1", "n2", "n4"] as NodeId[], learners: [] };
  assert.match(check(bytes({ config: other }))!, /configuration/);
  const reordered = { voters: ["n3", "n1", "n2"] as NodeId[], learners: [] };
  assert.equal(check(bytes({ config: reordered })), null, "membership is a set");
});

Deno.test("a container whose embedded entries could not be installed is refused", () => {
  assert.equal(check(rawContainer(container().entries)), null, "the raw encoder is sound");
  const cases: [string, LogEntry[], RegExp][] = [
    ["a gap", [entry(7, 2), entry(9, 2)], /index 9, expected 8/],
    ["an end before the snapshot", [entry(7, 2), entry(8, 2)], /end at index 8/],
    ["an end past the snapshot", [entry(9, 2), entry(10, 2)], /end at index 10/],
    ["another last term", [entry(8, 2), entry(9, 1)], /term 1, below 2/],
    ["index 0", [entry(0, 1)], /index 0/],
    ["a fractional index", [{ ...entry(9, 2), index: 8.5 }], /index 8.5/],
    ["a negative term", [{ ...entry(9, 2), term: -1 }], /term -1/],
    ["a NaN timestamp", [{ ...entry(9, 2), timestamp: NaN }], /timestamp NaN/],
    ["a timestamp going back", [entry(8, 2), { ...entry(9, 2), timestamp: 5 }], /timestamp 5/],
  ];
  for (const [what, entries, pattern] of cases) {
    assert.match(check(rawContainer(entries)) ?? "passed", pattern, what);
  }
  const sound = rawContainer(container().entries);
  const count = sound.length - container().entries.reduce((s, e) => s + 29 + e.payload.length, 0);
  const miscounted = sound.slice();
  new DataView(miscounted.buffer).setUint32(count - 4, 5, true);
  assert.match(check(miscounted)!, /4 of 5 entries/);
  new DataView(miscounted.buffer).setUint32(count - 4, 3, true);
  assert.match(check(miscounted)!, /more than the 3 entries/);
  assert.match(check(concat([sound, new Uint8Array(3)]))!, /ends inside its entryHeader/);
  assert.match(check(sound.subarray(0, sound.length - 1))!, /ends inside its payload/);
});

Deno.test("a container's declared sizes are checked before anything is gathered for them", () => {
  const bytes = encodeSnapshotContainer(container({ entries: [] }));
  const huge = bytes.slice();
  new DataView(huge.buffer).setUint32(21, 0xffffffff, true); // config length
  assert.match(check(huge)!, /a config of 4294967295 bytes/);
  const configBytes = new DataView(bytes.buffer).getUint32(21, true);
  const machine = bytes.slice();
  new DataView(machine.buffer).setFloat64(25 + configBytes + 8, 2 ** 40, true);
  assert.match(check(machine)!, /machine image of 1099511627776 bytes/);
  assert.match(check(bytes.subarray(0, 10))!, /ends inside its fixed part/);
  const notJson = bytes.slice();
  notJson[25] = 0x7b + 1;
  assert.match(check(notJson)!, /fixed part: bad config/);
});

Deno.test("whatever a byte flip leaves, the checker passes only a container that decodes as the snapshot", () => {
  const sound = encodeSnapshotContainer(container());
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat({ max: sound.length - 1 }), fc.integer({ min: 1, max: 255 })), {
        minLength: 1,
        maxLength: 4,
      }),
      fc.nat({ max: sound.length }),
      (flips, cut) => {
        const bytes = sound.slice();
        for (const [at, mask] of flips) bytes[at] ^= mask;
        if (check(bytes, [cut]) !== null) return;
        const decoded = decodeSnapshotContainer(bytes);
        assert.equal(decoded.index, 9);
        assert.equal(decoded.term, 2);
        for (let i = 1; i < decoded.entries.length; i++) {
          assert.ok(decoded.entries[i].term >= decoded.entries[i - 1].term);
          assert.ok(decoded.entries[i].timestamp >= decoded.entries[i - 1].timestamp);
        }
      },
    ),
    { numRuns: 2000 },
  );
});

/** Feeds `bytes` and its CRC trailer to a sink as one transfer in chunks of 7 bytes. */
function transfer(sink: FileSnapshotSink, bytes: Uint8Array, index = 9): boolean {
  const stream = concat([bytes, u32(crc32c(bytes, 0))]);
  sink.begin({ index: index as LogIndex, term: 2 as Term, config, byteLength: stream.length });
  for (let at = 0; at < stream.length; at += 7) sink.write(at, stream.subarray(at, at + 7));
  return sink.finish();
}

Deno.test("the sink refuses a container under a sound CRC that is not the snapshot, and keeps nothing", () => {
  const fs = new SimFileSystem();
  const warnings: string[] = [];
  const sink = new FileSnapshotSink(fs, dir, { warn: (line) => warnings.push(line) });
  const gap = rawContainer([entry(7, 2), entry(9, 2)]);
  assert.equal(transfer(sink, gap), false);
  assert.equal(transfer(sink, gap), false);
  assert.equal(transfer(sink, encodeSnapshotContainer(container()), 10), false);
  assert.deepEqual(fs.readDir(dir), [], "no temp file stays");
  assert.equal(sink.busy, false);
  assert.equal(warnings.length, 2, "a resent refusal is reported once");
  assert.match(warnings[0], /index 9 received: entry 1 has index 9, expected 8/);
  assert.match(warnings[1], /index 10 received: the container is of index 9/);
  assert.equal(transfer(sink, encodeSnapshotContainer(container())), true, "a sound one passes");
  assert.equal(sink.takeFinished(9).containerBytes, encodeSnapshotContainer(container()).length);
});

Deno.test("the sink refuses a machine image the applier could not load, or of another index", () => {
  const fs = new SimFileSystem();
  const warnings: string[] = [];
  const images: string[] = [];
  const machineIndex = (image: Uint8Array) => {
    const text = new TextDecoder().decode(image);
    images.push(text);
    if (!text.startsWith("image at ")) throw new RangeError("not an image");
    return Number(text.slice("image at ".length));
  };
  const sink = new FileSnapshotSink(fs, dir, { warn: (line) => warnings.push(line), machineIndex });
  const withImage = (text: string) => encodeSnapshotContainer(container({ machine: enc(text) }));
  assert.equal(transfer(sink, withImage("garbage")), false);
  assert.equal(transfer(sink, withImage("image at 8")), false);
  assert.deepEqual(fs.readDir(dir), [], "no temp file stays");
  assert.match(warnings[0], /its machine image: not an image/);
  assert.match(warnings[1], /its machine image is at index 8/);
  assert.equal(transfer(sink, withImage("image at 9")), true);
  assert.deepEqual(images, ["garbage", "image at 8", "image at 9"], "each image read whole");
});

Deno.test("a container of a newer release's version is refused with the upgrade message", () => {
  const bytes = encodeSnapshotContainer(container());
  bytes[4] = 99; // the container version (a newer release's)
  assert.match(check(bytes) ?? "", /format version 99, newer than this release reads.*upgrade/);
  bytes[4] = 1;
  assert.equal(check(bytes), null);
});
