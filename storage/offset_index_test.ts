import assert from "node:assert/strict";
import { OffsetIndex } from "./offset_index.ts";
import { TimeIndex } from "./time_index.ts";

Deno.test("the offset index finds the nearest point at or before an entry", () => {
  const index = new OffsetIndex();
  for (let point = 0; point < 100; point++) index.add(point * 10, point * 4096);
  assert.equal(index.floor(-1), -1);
  assert.equal(index.floor(0), 0);
  assert.equal(index.floor(9), 0);
  assert.equal(index.floor(10), 1);
  assert.equal(index.positionAt(index.floor(555)), 55 * 4096);
  index.truncateFrom(500);
  assert.equal(index.count, 50);
  assert.equal(index.relativeIndexAt(index.floor(10_000)), 490);
  assert.throws(() => index.add(480, 1 << 30), /grow/);
});

Deno.test("the time index keeps only growing timestamps and finds the last one before a time", () => {
  const index = new TimeIndex();
  index.add(100, 0);
  index.add(100, 5); // not newer: no point
  index.add(200, 10);
  index.add(300, 20);
  assert.equal(index.count, 3);
  assert.equal(index.lastBefore(100), -1);
  assert.equal(index.lastBefore(101), 0);
  assert.equal(index.lastBefore(300), 10);
  assert.equal(index.lastBefore(1e9), 20);
  index.truncateFrom(10);
  assert.equal(index.count, 1);
});
