import assert from "node:assert/strict";
import { median, type ResultLine, summarize } from "./summarize.ts";

Deno.test("the median of an even count is the mean of the middle two", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([]), null);
});

Deno.test("repeated runs of one config share a row with their median", () => {
  const line = (config: string, producedPerSec: number): ResultLine => ({
    system: "cmqd",
    config,
    replicas: 1,
    shape: "produce",
    producers: 4,
    consumers: 0,
    producedPerSec,
    consumedPerSec: null,
    p50ms: null,
    p99ms: null,
  });
  const table = summarize([line("4p4c-run1", 30000), line("4p4c-run2", 32000)]);
  const rows = table.split("\n");
  assert.equal(rows.length, 3);
  assert.match(
    rows[2],
    /\| cmqd \| 4p4c \| 1 \| produce \| 4\/0 \| 30000, 32000 → \*\*31000\*\* \|/,
  );
});
