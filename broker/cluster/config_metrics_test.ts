/**
 * The options that bound `/metrics`' per-entity series: `--metrics-queue-series` (the queues'
 * depth gauges) and `--metrics-topic-series` (the topics' and subscriptions' series).
 */
import assert from "node:assert/strict";
import { parseConfig } from "./config.ts";

Deno.test("--metrics-queue-series: 1000 by default, from the flag or CMQD_METRICS_QUEUE_SERIES, 0 = none", () => {
  assert.equal(parseConfig([], {}).metricsQueueSeries, 1000);
  assert.equal(parseConfig(["--metrics-queue-series", "0"], {}).metricsQueueSeries, 0);
  assert.equal(parseConfig([], { CMQD_METRICS_QUEUE_SERIES: "50" }).metricsQueueSeries, 50);
  assert.throws(
    () => parseConfig(["--metrics-queue-series", "-1"], {}),
    /^Error: --metrics-queue-series needs a value, got the flag '-1'|not a whole number/,
  );
});

Deno.test("--metrics-topic-series: 1000 by default, from the flag or CMQD_METRICS_TOPIC_SERIES, 0 = none", () => {
  assert.equal(parseConfig([], {}).metricsTopicSeries, 1000);
  assert.equal(parseConfig(["--metrics-topic-series", "0"], {}).metricsTopicSeries, 0);
  assert.equal(parseConfig([], { CMQD_METRICS_TOPIC_SERIES: "50" }).metricsTopicSeries, 50);
  // Each option bounds its own entities.
  const queuesOnly = parseConfig(["--metrics-queue-series", "0"], {});
  assert.equal(queuesOnly.metricsTopicSeries, 1000);
  assert.throws(
    () => parseConfig(["--metrics-topic-series", "x"], {}),
    /--metrics-topic-series.*not a whole number|not a whole number.*--metrics-topic-series/,
  );
});
