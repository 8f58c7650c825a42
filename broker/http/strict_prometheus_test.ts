/**
 * The strict text-format reader the metrics tests use refuses what it is there to catch; and
 * the registry's label values and help survive it, whatever they hold.
 */
import assert from "node:assert/strict";
import { Metrics } from "./metrics.ts";
import { parsePrometheusStrict } from "./testing/mod.ts";

const good = [
  "# HELP a_total A.",
  "# TYPE a_total counter",
  'a_total{x="1"} 2',
  "# TYPE h histogram",
  'h_bucket{le="1"} 1',
  'h_bucket{le="+Inf"} 2',
  "h_sum 3.5",
  "h_count 2",
  "",
].join("\n");

Deno.test("the strict reader takes a well-formed exposition", () => {
  const families = parsePrometheusStrict(good);
  assert.deepEqual([...families.keys()], ["a_total", "h"]);
  assert.equal(families.get("h")!.samples.length, 4);
});

Deno.test("the strict reader refuses each fault", () => {
  const faults: [string, string][] = [
    ["HELP twice", good.replace("# TYPE a_total", "# HELP a_total B.\n# TYPE a_total")],
    [
      "TYPE twice",
      good.replace("# TYPE a_total counter", "# TYPE a_total counter\n# TYPE a_total counter"),
    ],
    ["a split family", good + 'a_total{x="2"} 1\n'],
    ["a series twice", good.replace('a_total{x="1"} 2', 'a_total{x="1"} 2\na_total{x="1"} 3')],
    ["a bad escape", good.replace('{x="1"}', '{x="\\t"}')],
    ["a counter without _total", good.replaceAll("a_total", "a")],
    ["no +Inf bucket", good.replace('h_bucket{le="+Inf"} 2\n', "")],
    ["buckets not cumulative", good.replace('h_bucket{le="1"} 1', 'h_bucket{le="1"} 3')],
    ["+Inf not the count", good.replace("h_count 2", "h_count 3")],
    ["a stray sample name", good.replace("h_sum", "h_total")],
    ["a TYPE after samples", good + "b 1\n# TYPE b gauge\n"],
    ["no final newline", good.slice(0, -1)],
  ];
  for (const [what, text] of faults) {
    assert.throws(() => parsePrometheusStrict(text), assert.AssertionError, what);
  }
});

Deno.test("label values with quotes, backslashes and newlines round-trip through the registry", () => {
  const metrics = new Metrics();
  const awkward = 'a "quoted" \\path\\ and\na newline';
  metrics.counter("odd_total", "Help with \\ and\nnewline.").inc({ code: awkward });
  metrics.histogram("odd_seconds", "Latency.", [0.1, 1]).observe(0.5, { node: awkward });
  const families = parsePrometheusStrict(metrics.text());
  assert.deepEqual(families.get("odd_total")!.samples[0].labels, [["code", awkward]]);
  const buckets = families.get("odd_seconds")!.samples.filter((s) => s.name.endsWith("_bucket"));
  assert.deepEqual(buckets.map((s) => s.value), [0, 1, 1]);
  assert.deepEqual(buckets[0].labels, [["node", awkward], ["le", "0.1"]]);
});
