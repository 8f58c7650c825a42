import assert from "node:assert/strict";
import { assign } from "./load_group.ts";
import {
  LatencySamples,
  makeBatch,
  nowMs,
  paddingFor,
  readStamp,
  SharedCounters,
} from "./load_runner.ts";

Deno.test("a batch carries its send time and has the asked size", () => {
  const before = nowMs();
  const [message] = makeBatch(1, paddingFor(1024));
  assert.equal(message.body.length, 1024);
  const stamp = readStamp(message.body);
  assert.ok(stamp >= before - 1 && stamp <= nowMs() + 1);
});

Deno.test("latency percentiles come from the sorted samples", () => {
  const samples = new LatencySamples();
  for (let value = 100; value >= 1; value--) samples.add(value);
  assert.equal(samples.percentile(50), 51);
  assert.equal(samples.percentile(100), 100);
  assert.equal(new LatencySamples().percentile(50), null);
});

Deno.test("shared counters sum every runner's row", () => {
  const counters = new SharedCounters(3);
  counters.add(0, "produced", 16);
  counters.add(2, "produced", 4);
  counters.add(1, "consumed", 7);
  assert.equal(counters.total("produced"), 20);
  assert.equal(counters.total("consumed"), 7);
});

Deno.test("producers and consumers are put on separate threads", () => {
  assert.deepEqual(assign({ producers: 4, consumers: 4, threads: 2 }), [
    { producers: [0, 1, 2, 3], consumers: [] },
    { producers: [], consumers: [0, 1, 2, 3] },
  ]);
  assert.deepEqual(assign({ producers: 2, consumers: 0, threads: 2 }), [
    { producers: [0], consumers: [] },
    { producers: [1], consumers: [] },
  ]);
  assert.deepEqual(assign({ producers: 1, consumers: 1, threads: 0 }), [
    { producers: [0], consumers: [0] },
  ]);
});
