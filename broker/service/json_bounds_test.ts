/**
 * The scan that refuses JSON too costly to parse: depth and count bounds, strings skipped
 * exactly as `JSON.parse` reads them, and short text left unscanned.
 */
import assert from "node:assert/strict";
import { jsonBounds, jsonBoundsProblem } from "./json_bounds.ts";

const pad = `"${"p".repeat(jsonBounds.scannedCharsMin)}"`;
const nested = (levels: number) => "[".repeat(levels) + "]".repeat(levels);
const deep = "nested too deep: more than 64 levels of arrays and objects";
const complex = "too complex: more than 4096 arrays and objects";

Deno.test("depth and count are bounded, at the bound exactly", () => {
  assert.equal(jsonBoundsProblem(`[${pad},${nested(63)}]`), null);
  assert.equal(jsonBoundsProblem(`[${pad},${nested(64)}]`), deep);
  assert.equal(jsonBoundsProblem(`{"a":${pad},"b":{"c":${nested(63)}}}`), deep);
  const objects = (count: number) => Array(count).fill("{}").join(",");
  assert.equal(jsonBoundsProblem(`[${pad},${objects(4095)}]`), null);
  assert.equal(jsonBoundsProblem(`[${pad},${objects(4096)}]`), complex);
  // Bodies too short to hold more than the bound are not scanned (nor costly to parse).
  assert.equal(jsonBoundsProblem(nested(100)), null);
  assert.equal(jsonBounds.scannedCharsMin, 2 * jsonBounds.containersMax);
});

Deno.test("object members are bounded: distinct keys are what JSON.parse spends its time on", () => {
  const members = (count: number) =>
    `{${Array.from({ length: count }, (_, i) => `"k${i}":1`).join(",")}}`;
  const many = "too complex: more than 16384 object members";
  assert.equal(jsonBoundsProblem(members(16_384)), null);
  assert.equal(jsonBoundsProblem(members(16_385)), many);
  assert.equal(
    jsonBoundsProblem(`{"messages":[{"body":"a","attributes":${members(300_000)}}]}`),
    many,
  );
  // Spread over many objects they count the same; colons inside strings are not members.
  const spread = `[${Array(4000).fill(members(5)).join(",")}]`;
  assert.equal(jsonBoundsProblem(spread), many);
  assert.equal(jsonBoundsProblem(JSON.stringify({ body: ":".repeat(100_000) })), null);
  // A legal v1 batch: 256 messages with 10 attributes each, far under the bound.
  const message = { body: "a", attributes: JSON.parse(members(10)), groupId: "g" };
  assert.equal(jsonBoundsProblem(JSON.stringify({ messages: Array(256).fill(message) })), null);
});

Deno.test("brackets inside strings are not counted, escaped quotes and backslashes included", () => {
  for (
    const value of [
      "[".repeat(20_000),
      `"${"{".repeat(20_000)}`,
      `\\"${"[".repeat(20_000)}`,
      `\\\\${"[".repeat(20_000)}\\`,
      `${'\\"['.repeat(20_000)}`,
    ]
  ) {
    const text = JSON.stringify({ body: value, tags: [[["a"]]] });
    assert.equal(jsonBoundsProblem(text), null, text.slice(0, 40));
    assert.deepEqual(JSON.parse(text).body, value);
  }
  // A quote after an even run of backslashes closes the string: what follows counts.
  assert.equal(jsonBoundsProblem(`["\\\\",${pad},${nested(65)}]`), deep);
  // One after an odd run does not.
  assert.equal(jsonBoundsProblem(`["\\\\\\",${pad},${nested(65)}]`), null);
});

Deno.test("text that is not JSON is judged as far as JSON.parse reads it", () => {
  // A string left open, or a closer with nothing open: the parse ends there.
  assert.equal(jsonBoundsProblem(`[${pad},"${nested(100)}`), null);
  assert.equal(jsonBoundsProblem(`]${pad}${nested(100)}`), null);
  // Openers never closed are counted as they come.
  assert.equal(jsonBoundsProblem(`${pad}${"[".repeat(100_000)}`), deep);
});
