import assert from "node:assert/strict";
import { metricGauges, processSample, snapshotCounts, snapshotGrowth } from "./soak_sampler.ts";

Deno.test("metricGauges sums each watched family over its labelled series and counts every line", () => {
  const text = [
    "# HELP cmqd_active_messages x",
    "# TYPE cmqd_active_messages gauge",
    "cmqd_active_messages 7",
    'cmqd_queue_active_messages{queue="a"} 3',
    "cmqd_parked_receives 2",
    'cmqd_http_requests_total{route="/x {y}"} 9',
    'cmqd_push_pending_messages{topic="t",subscription="a"} 1',
    'cmqd_push_pending_messages{topic="t",subscription="b"} 2',
    "",
  ].join("\n");
  const gauges = metricGauges(text);
  // The node-wide total, not the per-queue series (listed only up to --metrics-queue-series).
  assert.equal(gauges.cmqd_active_messages, 7);
  assert.equal(gauges.cmqd_push_pending_messages, 3);
  assert.equal(gauges.cmqd_parked_receives, 2);
  assert.equal(gauges.cmqd_push_inflight_requests, 0);
  assert.equal(gauges.series, 6);
});

Deno.test("processSample reads this process's RSS, fds and threads; null for a process that is gone", () => {
  const self = processSample(Deno.pid)!;
  assert.ok(self.rssKb > 0 && self.fds > 0 && self.threads > 0);
  assert.equal(Object.values(self.fdKinds).reduce((a, b) => a + b, 0), self.fds);
  assert.equal(processSample(2 ** 30), null);
});

Deno.test("snapshotGrowth lists the kinds of object whose count grew, most first", () => {
  const snapshot = (nodes: number[]) => ({
    snapshot: { meta: { node_fields: ["type", "name", "self_size"], node_types: [["object"]] } },
    nodes,
    strings: ["Entry", "Other"],
  });
  const before = snapshotCounts(snapshot([0, 0, 10, 0, 1, 5]));
  const after = snapshotCounts(snapshot([0, 0, 10, 0, 0, 10, 0, 0, 10, 0, 1, 5]));
  assert.deepEqual(snapshotGrowth(before, after), [{ kind: "object:Entry", count: 2, bytes: 20 }]);
});
