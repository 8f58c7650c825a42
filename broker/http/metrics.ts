/**
 * A small Prometheus registry: counters, gauges and histograms with labels, rendered in the
 * text exposition format 0.0.4 (`# HELP` / `# TYPE` lines, then one sample per line).
 *
 * Every metric keeps at most `seriesMax` label combinations so a bug that puts an unbounded
 * value (a raw path, a message id) into a label can't grow memory without bound; samples of
 * extra combinations are dropped and counted in `cmqd_metrics_series_dropped_total`.
 *
 * Hot paths should bind their labels once with `labels()` and keep the returned child: that
 * skips building the series key on every call.
 *
 * @example
 * ```ts
 * const metrics = new Metrics();
 * const requests = metrics.counter("cmqd_http_requests_total", "HTTP requests served");
 * requests.inc({ route: "/v1/queues", method: "GET", status: "200" });
 * const fsync = metrics.histogram("cmqd_fsync_seconds", "fdatasync latency", [0.001, 0.01, 0.1]);
 * fsync.observe(0.0004);
 * console.log(metrics.text());
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";

/** Label names to values of one series. */
export type Labels = Readonly<Record<string, string>>;

/** Options of a `Metrics` registry. */
export interface MetricsOptions {
  /** Label combinations kept per metric; further ones are dropped. */
  seriesMax?: number;
}

/** Default buckets (seconds) for request latencies: 0.5 ms to 10 s. */
export const latencyBucketsSeconds: readonly number[] = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

const metricNamePattern = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelNamePattern = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const seriesMaxDefault = 10_000;

/** A counter bound to one label set. */
export interface CounterChild {
  /** Adds `amount` (default 1, never negative). */
  inc(amount?: number): void;
}

/** A gauge bound to one label set. */
export interface GaugeChild {
  set(value: number): void;
  inc(amount?: number): void;
  dec(amount?: number): void;
}

/** A histogram bound to one label set. */
export interface HistogramChild {
  observe(value: number): void;
}

interface Series {
  labelsText: string;
}

interface ScalarSeries extends Series {
  value: number;
}

interface HistogramSeries extends Series {
  /** Non-cumulative counts per bucket; rendered cumulatively. */
  bucketCounts: Float64Array;
  sum: number;
  count: number;
}

const noopChild: CounterChild & GaugeChild & HistogramChild = {
  inc() {},
  dec() {},
  set() {},
  observe() {},
};

abstract class Metric<S extends Series> {
  readonly name: string;
  readonly help: string;
  readonly #registry: Metrics;
  readonly #series = new Map<string, S>();

  constructor(registry: Metrics, options: { name: string; help: string }) {
    assert.match(options.name, metricNamePattern, `metric name ${options.name}`);
    this.#registry = registry;
    this.name = options.name;
    this.help = options.help;
  }

  abstract readonly type: "counter" | "gauge" | "histogram";
  protected abstract create(labelsText: string): S;
  abstract render(lines: string[]): void;

  /** The series of `labels`, created on first use; undefined when over the series limit. */
  protected series(labels: Labels | undefined): S | undefined {
    const key = labels === undefined ? "" : labelsKey(labels);
    let series = this.#series.get(key);
    if (series === undefined) {
      if (this.#series.size >= this.#registry.seriesMax) {
        this.#registry.seriesDropped += 1;
        return undefined;
      }
      series = this.create(labels === undefined ? "" : renderLabels(labels));
      this.#series.set(key, series);
    }
    return series;
  }

  /**
   * Forgets the series of `labels` (the next use starts it again from zero); true when it was
   * kept. A handle `labels()` returned for it no longer shows in the text: drop it too.
   */
  remove(labels: Labels): boolean {
    return this.#series.delete(labelsKey(labels));
  }

  protected allSeries(): IterableIterator<S> {
    return this.#series.values();
  }

  protected header(lines: string[]): void {
    lines.push(`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`);
  }
}

/** A metric whose series each hold one number (counters and gauges). */
abstract class ScalarMetric extends Metric<ScalarSeries> {
  protected create(labelsText: string): ScalarSeries {
    return { labelsText, value: 0 };
  }

  render(lines: string[]): void {
    this.header(lines);
    for (const series of this.allSeries()) {
      lines.push(`${this.name}${series.labelsText} ${formatNumber(series.value)}`);
    }
  }
}

/** A monotonically increasing count. */
export class Counter extends ScalarMetric {
  readonly type = "counter";

  /** Adds `amount` (default 1) to the series of `labels`. */
  inc(labels?: Labels, amount = 1): void {
    if (!(amount >= 0)) assert.fail("a counter never decreases");
    const series = this.series(labels);
    if (series !== undefined) series.value += amount;
  }

  /** The series of `labels` as a handle that skips the label lookup on each call. */
  labels(labels: Labels): CounterChild {
    const series = this.series(labels);
    if (series === undefined) return noopChild;
    return {
      inc(amount = 1) {
        if (!(amount >= 0)) assert.fail("a counter never decreases");
        series.value += amount;
      },
    };
  }
}

/** A value that goes up and down (queue depth, connections). */
export class Gauge extends ScalarMetric {
  readonly type = "gauge";

  /** Sets the series of `labels` to `value`. */
  set(value: number, labels?: Labels): void {
    const series = this.series(labels);
    if (series !== undefined) series.value = value;
  }

  /** Adds `amount` (default 1) to the series of `labels`. */
  inc(labels?: Labels, amount = 1): void {
    const series = this.series(labels);
    if (series !== undefined) series.value += amount;
  }

  /** Subtracts `amount` (default 1) from the series of `labels`. */
  dec(labels?: Labels, amount = 1): void {
    this.inc(labels, -amount);
  }

  /** The series of `labels` as a handle that skips the label lookup on each call. */
  labels(labels: Labels): GaugeChild {
    const series = this.series(labels);
    if (series === undefined) return noopChild;
    return {
      set(value) {
        series.value = value;
      },
      inc(amount = 1) {
        series.value += amount;
      },
      dec(amount = 1) {
        series.value -= amount;
      },
    };
  }
}

/** Observations counted into fixed buckets (latencies, sizes). */
export class Histogram extends Metric<HistogramSeries> {
  readonly type = "histogram";
  /** Upper bounds, strictly increasing; `+Inf` is implicit. */
  readonly buckets: readonly number[];
  readonly #bucketLabels: string[];

  constructor(registry: Metrics, options: { name: string; help: string; buckets: number[] }) {
    super(registry, options);
    const buckets = options.buckets;
    assert.ok(buckets.length > 0, "a histogram needs buckets");
    for (let index = 1; index < buckets.length; index++) {
      assert.ok(buckets[index - 1] < buckets[index], "buckets must increase strictly");
    }
    assert.ok(Number.isFinite(buckets[buckets.length - 1]), "+Inf is implicit");
    this.buckets = Object.freeze([...buckets]);
    this.#bucketLabels = [...buckets.map(formatNumber), "+Inf"];
  }

  /** Records `value` in the series of `labels`. */
  observe(value: number, labels?: Labels): void {
    const series = this.series(labels);
    if (series !== undefined) this.#record(series, value);
  }

  /** The series of `labels` as a handle that skips the label lookup on each call. */
  labels(labels: Labels): HistogramChild {
    const series = this.series(labels);
    if (series === undefined) return noopChild;
    return { observe: (value) => this.#record(series, value) };
  }

  #record(series: HistogramSeries, value: number): void {
    const buckets = this.buckets;
    let index = 0;
    while (index < buckets.length && value > buckets[index]) index++;
    series.bucketCounts[index] += 1;
    series.sum += value;
    series.count += 1;
  }

  protected create(labelsText: string): HistogramSeries {
    return {
      labelsText,
      bucketCounts: new Float64Array(this.buckets.length + 1),
      sum: 0,
      count: 0,
    };
  }

  render(lines: string[]): void {
    this.header(lines);
    for (const series of this.allSeries()) {
      // `le` goes after the series' own labels: `{route="/x",le="0.5"}`.
      const prefix = series.labelsText === "" ? "{" : `${series.labelsText.slice(0, -1)},`;
      let cumulative = 0;
      for (let index = 0; index < this.#bucketLabels.length; index++) {
        cumulative += series.bucketCounts[index];
        lines.push(
          `${this.name}_bucket${prefix}le="${this.#bucketLabels[index]}"} ${cumulative}`,
        );
      }
      lines.push(`${this.name}_sum${series.labelsText} ${formatNumber(series.sum)}`);
      lines.push(`${this.name}_count${series.labelsText} ${series.count}`);
    }
  }
}

/**
 * The registry: creates metrics by name and renders them all. Asking twice for the same name
 * and type returns the same metric, so modules may declare what they use independently.
 */
export class Metrics {
  /** Label combinations kept per metric. */
  readonly seriesMax: number;
  /** Samples dropped because a metric was over `seriesMax`. */
  seriesDropped = 0;
  readonly #metrics = new Map<string, Metric<Series>>();
  readonly #collectors: (() => void)[] = [];

  constructor(options: MetricsOptions = {}) {
    this.seriesMax = options.seriesMax ?? seriesMaxDefault;
    assert.ok(this.seriesMax >= 1, "seriesMax must be positive");
  }

  /** A counter named `name` (conventionally ending in `_total`). */
  counter(name: string, help: string): Counter {
    return this.#register(name, Counter, () => new Counter(this, { name, help }));
  }

  /** A gauge named `name`. */
  gauge(name: string, help: string): Gauge {
    return this.#register(name, Gauge, () => new Gauge(this, { name, help }));
  }

  /** A histogram named `name` with fixed bucket upper bounds (`+Inf` added implicitly). */
  histogram(
    name: string,
    help: string,
    buckets: readonly number[] = latencyBucketsSeconds,
  ): Histogram {
    return this.#register(
      name,
      Histogram,
      () => new Histogram(this, { name, help, buckets: [...buckets] }),
    );
  }

  /**
   * Runs `collect` before every rendering: the place to refresh gauges whose value lives
   * elsewhere (queue depths), instead of updating them on every change.
   */
  onCollect(collect: () => void): void {
    this.#collectors.push(collect);
  }

  /** All metrics in the Prometheus text format 0.0.4, ending with a newline. */
  text(): string {
    for (const collect of this.#collectors) collect();
    const lines: string[] = [];
    for (const metric of this.#metrics.values()) metric.render(lines);
    lines.push(
      "# HELP cmqd_metrics_series_dropped_total Samples dropped because a metric had too many label combinations.",
      "# TYPE cmqd_metrics_series_dropped_total counter",
      `cmqd_metrics_series_dropped_total ${this.seriesDropped}`,
    );
    return lines.join("\n") + "\n";
  }

  #register<M extends Metric<Series>>(
    name: string,
    type: abstract new (...args: never[]) => M,
    create: () => M,
  ): M {
    const existing = this.#metrics.get(name);
    if (existing !== undefined) {
      assert.ok(existing instanceof type, `metric ${name} already exists as a ${existing.type}`);
      return existing;
    }
    const metric = create();
    this.#metrics.set(name, metric);
    return metric;
  }
}

/** The media type of `Metrics.text()`. */
export const metricsContentType = "text/plain; version=0.0.4; charset=utf-8";

/** Sorted so that `{a, b}` and `{b, a}` name the same series. */
function labelNames(labels: Labels): string[] {
  const names = Object.keys(labels);
  if (names.length > 1) names.sort();
  return names;
}

function labelsKey(labels: Labels): string {
  let key = "";
  for (const name of labelNames(labels)) key += `${name}\u0000${labels[name]}\u0001`;
  return key;
}

function renderLabels(labels: Labels): string {
  const parts: string[] = [];
  for (const name of labelNames(labels)) {
    assert.match(name, labelNamePattern, `label name ${name}`);
    parts.push(`${name}="${escapeLabelValue(labels[name])}"`);
  }
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

function escapeLabelValue(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function escapeHelp(help: string): string {
  return help.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}
