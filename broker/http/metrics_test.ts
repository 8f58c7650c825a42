import assert from "node:assert/strict";
import { Metrics, metricsContentType } from "./metrics.ts";
import { parsePrometheusText } from "./testing/mod.ts";

Deno.test("a counter counts per label set and renders HELP and TYPE", () => {
  const metrics = new Metrics();
  const requests = metrics.counter("cmqd_requests_total", "Requests served");
  requests.inc({ route: "/a", status: "200" });
  requests.inc({ status: "200", route: "/a" }, 2);
  requests.inc({ route: "/b", status: "500" });
  const text = metrics.text();
  assert.ok(text.includes("# HELP cmqd_requests_total Requests served\n"));
  assert.ok(text.includes("# TYPE cmqd_requests_total counter\n"));
  const samples = parsePrometheusText(text);
  assert.equal(samples.get('cmqd_requests_total{route="/a",status="200"}'), 3);
  assert.equal(samples.get('cmqd_requests_total{route="/b",status="500"}'), 1);
});

Deno.test("a bound child shares the series of the same labels", () => {
  const metrics = new Metrics();
  const counter = metrics.counter("hits_total", "Hits");
  const child = counter.labels({ route: "/x" });
  child.inc();
  child.inc(4);
  counter.inc({ route: "/x" });
  assert.equal(parsePrometheusText(metrics.text()).get('hits_total{route="/x"}'), 6);
});

Deno.test("a counter refuses to go down", () => {
  const metrics = new Metrics();
  assert.throws(() => metrics.counter("c_total", "c").inc(undefined, -1));
});

Deno.test("a gauge sets, increments and decrements, without labels too", () => {
  const metrics = new Metrics();
  const depth = metrics.gauge("queue_depth", "Messages waiting");
  depth.set(10);
  depth.inc();
  depth.dec(undefined, 3);
  const child = depth.labels({ queue: "orders" });
  child.set(7);
  child.dec();
  const samples = parsePrometheusText(metrics.text());
  assert.equal(samples.get("queue_depth"), 8);
  assert.equal(samples.get('queue_depth{queue="orders"}'), 6);
});

Deno.test("a histogram renders cumulative buckets, +Inf, sum and count", () => {
  const metrics = new Metrics();
  const latency = metrics.histogram("latency_seconds", "Latency", [0.1, 1]);
  latency.observe(0.05, { route: "/r" });
  latency.observe(0.1, { route: "/r" });
  latency.observe(0.5, { route: "/r" });
  latency.labels({ route: "/r" }).observe(5);
  const text = metrics.text();
  assert.ok(text.includes("# TYPE latency_seconds histogram\n"));
  const samples = parsePrometheusText(text);
  assert.equal(samples.get('latency_seconds_bucket{route="/r",le="0.1"}'), 2);
  assert.equal(samples.get('latency_seconds_bucket{route="/r",le="1"}'), 3);
  assert.equal(samples.get('latency_seconds_bucket{route="/r",le="+Inf"}'), 4);
  assert.equal(samples.get('latency_seconds_sum{route="/r"}'), 5.65);
  assert.equal(samples.get('latency_seconds_count{route="/r"}'), 4);
});

Deno.test("a histogram without labels renders le as its only label", () => {
  const metrics = new Metrics();
  metrics.histogram("fsync_seconds", "fsync", [0.01]).observe(0.02);
  const samples = parsePrometheusText(metrics.text());
  assert.equal(samples.get('fsync_seconds_bucket{le="0.01"}'), 0);
  assert.equal(samples.get('fsync_seconds_bucket{le="+Inf"}'), 1);
});

Deno.test("histogram buckets must increase strictly", () => {
  const metrics = new Metrics();
  assert.throws(() => metrics.histogram("bad_seconds", "bad", [1, 1]));
  assert.throws(() => metrics.histogram("bad2_seconds", "bad", []));
});

Deno.test("label values and help text are escaped", () => {
  const metrics = new Metrics();
  metrics.counter("escaped_total", 'a "help"\\ with\nnewline').inc({ path: 'a"b\\c\nd' });
  const text = metrics.text();
  assert.ok(text.includes('# HELP escaped_total a "help"\\\\ with\\nnewline\n'));
  assert.ok(text.includes('escaped_total{path="a\\"b\\\\c\\nd"} 1\n'));
  parsePrometheusText(text);
});

Deno.test("asking twice for a name returns the same metric, another type is refused", () => {
  const metrics = new Metrics();
  assert.equal(metrics.counter("same_total", "x"), metrics.counter("same_total", "x"));
  assert.throws(() => metrics.gauge("same_total", "x"), /already exists as a counter/);
});

Deno.test("bad metric and label names are refused", () => {
  const metrics = new Metrics();
  assert.throws(() => metrics.counter("bad-name", "x"));
  assert.throws(() => metrics.counter("ok_total", "x").inc({ "bad-label": "v" }));
});

Deno.test("series beyond the limit are dropped and counted", () => {
  const metrics = new Metrics({ seriesMax: 2 });
  const counter = metrics.counter("limited_total", "x");
  counter.inc({ id: "1" });
  counter.inc({ id: "2" });
  counter.inc({ id: "3" });
  counter.labels({ id: "4" }).inc();
  counter.inc({ id: "1" });
  const samples = parsePrometheusText(metrics.text());
  assert.equal(samples.get('limited_total{id="1"}'), 2);
  assert.equal(samples.has('limited_total{id="3"}'), false);
  assert.equal(samples.get("cmqd_metrics_series_dropped_total"), 2);
});

Deno.test("a removed series leaves the text, frees its place under the limit and starts again from 0", () => {
  const metrics = new Metrics({ seriesMax: 2 });
  const counter = metrics.counter("removed_total", "x");
  counter.inc({ queue: "a", kind: "k" }, 5);
  counter.inc({ queue: "b" });
  assert.equal(counter.remove({ kind: "k", queue: "a" }), true, "labels in any order");
  assert.equal(counter.remove({ queue: "a", kind: "k" }), false, "already gone");
  assert.equal(parsePrometheusText(metrics.text()).has('removed_total{kind="k",queue="a"}'), false);
  counter.labels({ queue: "c" }).inc();
  counter.inc({ queue: "a", kind: "k" });
  const samples = parsePrometheusText(metrics.text());
  assert.equal(samples.get('removed_total{queue="c"}'), 1, "the freed place is taken");
  assert.equal(samples.has('removed_total{kind="k",queue="a"}'), false, "over the limit again");
  counter.remove({ queue: "b" });
  counter.inc({ queue: "a", kind: "k" });
  assert.equal(parsePrometheusText(metrics.text()).get('removed_total{kind="k",queue="a"}'), 1);
});

Deno.test("collectors run before every rendering", () => {
  const metrics = new Metrics();
  const gauge = metrics.gauge("collected", "x");
  let calls = 0;
  metrics.onCollect(() => gauge.set(++calls));
  metrics.text();
  assert.equal(parsePrometheusText(metrics.text()).get("collected"), 2);
  assert.match(metricsContentType, /^text\/plain; version=0\.0\.4/);
});
