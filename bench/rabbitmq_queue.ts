/**
 * The RabbitMQ side of cmqd's queue benchmarks (a bench script, not a product dependency): the
 * four shapes `load.ts` runs against cmqd (produce, consume, both, latency), in RabbitMQ's own
 * idiom, one JSON line per shape with `load.ts`'s field names, so `summarize.ts` puts the two side
 * by side.
 *
 * What RabbitMQ is given:
 *
 * - per shape a fresh durable **quorum queue** (`x-queue-type: quorum`,
 *   `x-quorum-initial-group-size: --replicas`), declared through the first `--url` and deleted at
 *   the end of the shape (also when it fails);
 * - **persistent** messages of `--size` bytes (1 KB) through the default exchange; bytes 0..7 carry
 *   the send time (float64, `performance.now()` of this process), so latency is send → delivery;
 * - **producers**: `--producers` connections, each one confirm channel keeping at most `--window`
 *   (1,000) unconfirmed publishes in flight (a sliding window: it publishes while under the window
 *   and each confirm frees a slot); a message counts when its confirm arrives;
 * - **consumers**: `--consumers` connections, each one channel with `prefetch(--prefetch)` (1,000)
 *   and a manual ack of every message, one by one; a message counts when it is acked (AMQP 0-9-1
 *   does not answer an ack);
 * - connections go round-robin over the `--url` list (a cluster's nodes), producers first;
 * - everything runs in this one isolate (`threads: 0` in the rows).
 *
 * Shapes, counted only inside the measured window (after `--warmup`, for `--seconds`), as in
 * `load.ts`: `produce` (producers only: confirmed/s); `consume` (`--prefill` messages published
 * with confirms first, then consumers only: acked/s from consumer start until the queue is
 * drained or the window ends, no warm-up); `both` (producers and consumers together: produced/s,
 * consumed/s, send → delivery p50/p99); `latency` (one producer publishing at `--rate` msg/s, one
 * consumer: send → delivery p50/p99, as `load.ts`'s latency shape). With `--broker-pid-files`
 * (comma list of `beam.pid` files) `brokerCpuPct` is the nodes' CPU summed, in % of one core.
 *
 * ```sh
 * # RabbitMQ 3.10 on 127.0.0.1:5672, started beforehand
 * deno run -A bench/rabbitmq_queue.ts --broker-pid-files <its beam.pid>
 * deno run -A bench/rabbitmq_queue.ts --replicas 3 --url amqp://guest:guest@127.0.0.1:5672,amqp://guest:guest@127.0.0.1:5673,amqp://guest:guest@127.0.0.1:5674
 * ```
 *
 * Options: `--help` lists them with their defaults. The AMQP clients are in
 * `rabbitmq_queue_clients.ts`.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { errorText, urlList } from "./amqp_client.ts";
import { flagLines, parseFlags } from "./cli_options.ts";
import { shapeList } from "./load_options.ts";
import { LatencySamples } from "./load_runner.ts";
import { type LoadResult, round } from "./load_shapes.ts";
import { CpuMeter, readPidFiles } from "./process_stats.ts";
import {
  Admin,
  type Budget,
  Consumer,
  Failures,
  Producer,
  type Recorder,
  sleep,
} from "./rabbitmq_queue_clients.ts";

/** The shapes this script runs (cmqd's `backlog` has no RabbitMQ side here). */
export type QueueShape = "produce" | "consume" | "both" | "latency";

/** Every option and its default. */
export const defaultQueueOptions = {
  /** A comma list of AMQP URLs (a cluster's nodes); the queue is declared through the first. */
  url: "amqp://guest:guest@127.0.0.1:5672",
  /** A comma list of produce, consume, both, latency, or `all` (the four). */
  shape: "all",
  seconds: 10,
  warmup: 2,
  size: 1024,
  producers: 1,
  consumers: 1,
  /** Unconfirmed publishes in flight per producer. */
  window: 1000,
  /** Unacknowledged deliveries per consumer (basic.qos). */
  prefetch: 1000,
  prefill: 300_000,
  /** Messages per second of the latency shape. */
  rate: 1000,
  /** The quorum queue's initial group size (and the rows' `replicas`). */
  replicas: 1,
  repeat: 1,
  /** The rows' `config` label (default `quorum-queue`). */
  config: "",
  /** Queue name prefix; each shape declares its own fresh queue. */
  queue: "bench",
  /** A comma list of the nodes' PID files (`beam.pid`), for `brokerCpuPct`. */
  brokerPidFiles: "",
};

/** The options of a run. */
export type QueueOptions = typeof defaultQueueOptions;

/** The shapes a `--shape` value names (`all` = the four); unknown names are an error. */
export function queueShapeList(shape: string): QueueShape[] {
  const list = shapeList(shape);
  if (list.length === 0) throw new Error("--shape names no shape");
  if (list.includes("backlog")) throw new Error("unknown shape 'backlog' here (cmqd-only)");
  return list as QueueShape[];
}

/**
 * Parses the command line over `defaultQueueOptions` and checks every value's range.
 *
 * @example
 * ```ts
 * const options = parseQueueArgs(["--shape", "produce,both", "--producers", "4"]);
 * ```
 */
export function parseQueueArgs(args: readonly string[]): QueueOptions {
  const options = parseFlags(args, defaultQueueOptions);
  const integer = (key: keyof QueueOptions, min: number, max = Number.MAX_SAFE_INTEGER) => {
    const value = options[key] as number;
    if (!Number.isInteger(value) || value < min || value > max) {
      const flag = key.replace(/[A-Z]/g, (letter) => "-" + letter.toLowerCase());
      throw new Error(`--${flag} is an integer in ${min}..${max}, got ${value}`);
    }
  };
  integer("producers", 1);
  integer("consumers", 1);
  integer("window", 1);
  integer("prefetch", 1, 65_535);
  integer("prefill", 0);
  integer("replicas", 1);
  integer("repeat", 1);
  integer("size", 8); // the send time's 8 bytes
  if (!(options.seconds > 0)) throw new Error("--seconds must be > 0");
  if (options.warmup < 0) throw new Error("--warmup must be >= 0");
  if (!(options.rate > 0)) throw new Error("--rate must be > 0");
  urlList(options.url);
  queueShapeList(options.shape);
  return options;
}

/** The producers and consumers of one shape run, their counters, and their cleanup. */
class ShapeRun {
  readonly failures = new Failures();
  readonly recorder: Recorder = { on: false, samples: new LatencySamples() };
  producers: Producer[] = [];
  consumers: Consumer[] = [];
  #urls: string[];
  #next = 0;
  #template: Buffer;

  constructor(readonly options: QueueOptions, readonly queue: string) {
    this.#urls = urlList(options.url);
    this.#template = Buffer.alloc(options.size, 0x78);
  }

  #url(): string {
    return this.#urls[this.#next++ % this.#urls.length];
  }

  /** Opens `count` producers (round-robin over the URLs) and starts them together. */
  async startProducers(count: number, shape: { budget?: Budget; ratePerSecond?: number }) {
    const plan = { queue: this.queue, template: this.#template, failures: this.failures };
    const each = {
      window: this.options.window,
      budget: shape.budget ?? null,
      ratePerSecond: (shape.ratePerSecond ?? 0) / count,
    };
    const opened: Producer[] = [];
    for (let index = 0; index < count; index++) {
      const producer = await Producer.open(this.#url(), plan, each);
      opened.push(producer);
      this.producers.push(producer);
    }
    for (const producer of opened) producer.start();
  }

  async startConsumers(count: number, record: boolean): Promise<void> {
    const plan = {
      queue: this.queue,
      prefetch: this.options.prefetch,
      recorder: record ? this.recorder : null,
    };
    for (let index = 0; index < count; index++) {
      this.consumers.push(await Consumer.open(this.#url(), plan));
    }
  }

  produced(): number {
    return this.producers.reduce((sum, producer) => sum + producer.window.confirmed, 0);
  }

  consumed(): number {
    return this.consumers.reduce((sum, consumer) => sum + consumer.consumed, 0);
  }

  async stopProducers(): Promise<void> {
    await Promise.all(this.producers.splice(0).map((producer) => producer.stop()));
  }

  async stopConsumers(): Promise<void> {
    await Promise.all(this.consumers.splice(0).map((consumer) => consumer.close()));
  }

  /** Closes whatever is still open (a shape that failed half-way). */
  async close(): Promise<void> {
    await Promise.all(this.producers.splice(0).map((producer) => producer.close()));
    await this.stopConsumers();
  }
}

/** What one measured window counted. */
export interface QueueWindow {
  seconds: number;
  produced: number;
  consumed: number;
  errors: number;
  clientCpuPct: number | null;
  brokerCpuPct: number | null;
}

/** Counts what `run` did between the end of the warm-up and the end of the window. */
async function measure(
  run: ShapeRun,
  plan: { warmupSeconds: number; seconds: number; pids: number[]; endEarly?: () => boolean },
): Promise<QueueWindow> {
  const cpu = new CpuMeter(plan.pids);
  await sleep(plan.warmupSeconds * 1000);
  const snapshot = () => ({
    at: performance.now(),
    produced: run.produced(),
    consumed: run.consumed(),
    errors: run.failures.count,
  });
  const start = snapshot();
  cpu.start();
  run.recorder.on = true;
  const deadline = start.at + plan.seconds * 1000;
  while (performance.now() < deadline) {
    await sleep(Math.min(20, Math.max(1, deadline - performance.now())));
    if (plan.endEarly?.()) break;
  }
  const end = snapshot();
  run.recorder.on = false;
  return {
    seconds: (end.at - start.at) / 1000,
    produced: end.produced - start.produced,
    consumed: end.consumed - start.consumed,
    errors: end.errors - start.errors,
    ...cpu.stop(),
  };
}

/**
 * The JSON row of one shape: `load.ts`'s fields with the same meaning (rates over the measured
 * window, send → delivery percentiles, this process's and the broker's CPU in % of one core),
 * then RabbitMQ's own settings.
 */
export function queueRow(
  options: QueueOptions,
  input: {
    shape: QueueShape;
    producers: number;
    consumers: number;
    window: QueueWindow;
    samples: LatencySamples | null;
    extra?: Record<string, unknown>;
  },
): LoadResult {
  const { window, samples } = input;
  const perSecond = (count: number) => round(count / window.seconds);
  const percentile = (p: number) => samples ? round(samples.percentile(p), 2) : null;
  return {
    system: "rabbitmq",
    config: options.config || "quorum-queue",
    replicas: options.replicas,
    shape: input.shape,
    msgSize: options.size,
    producers: input.producers,
    consumers: input.consumers,
    seconds: round(window.seconds, 2) ?? 0,
    producedPerSec: input.producers > 0 ? perSecond(window.produced) : null,
    consumedPerSec: input.consumers > 0 ? perSecond(window.consumed) : null,
    p50ms: percentile(50),
    p99ms: percentile(99),
    batch: 1, // one message per publish
    p999ms: percentile(99.9),
    maxms: percentile(100),
    latencySamples: samples?.count ?? null,
    errors: window.errors,
    ackMode: input.consumers > 0 ? "individual" : null,
    client: "amqplib",
    threads: 0,
    connections: input.producers + input.consumers,
    clientCpuPct: window.clientCpuPct,
    brokerCpuPct: window.brokerCpuPct,
    queueType: "quorum",
    nodes: urlList(options.url).length,
    window: input.producers > 0 ? options.window : null,
    prefetch: input.consumers > 0 ? options.prefetch : null,
    ...input.extra,
    at: new Date().toISOString(),
  };
}

async function runProduce(run: ShapeRun, pids: number[]) {
  const { options } = run;
  await run.startProducers(options.producers, {});
  const window = await measure(run, {
    warmupSeconds: options.warmup,
    seconds: options.seconds,
    pids,
  });
  await run.stopProducers();
  return { producers: options.producers, consumers: 0, window, samples: null };
}

async function runConsume(run: ShapeRun, pids: number[], admin: Admin) {
  const { options } = run;
  const fillStart = performance.now();
  await run.startProducers(options.producers, { budget: { left: options.prefill } });
  await Promise.all(run.producers.map((producer) => producer.settled()));
  const filled = run.produced();
  const fillSeconds = (performance.now() - fillStart) / 1000;
  await run.stopProducers();
  const prefilled = (await admin.depth(run.queue)) ?? filled;
  await run.startConsumers(options.consumers, false);
  // A drain, as in load.ts: from consumer start until the queue is empty or the window ends.
  const window = await measure(run, {
    warmupSeconds: 0,
    seconds: options.seconds,
    pids,
    endEarly: () => run.consumed() >= prefilled,
  });
  const drainedEarly = run.consumed() >= prefilled;
  await run.stopConsumers();
  const extra = { prefilled, prefillPerSec: round(filled / fillSeconds), drainedEarly };
  return { producers: 0, consumers: options.consumers, window, samples: null, extra };
}

async function runBoth(run: ShapeRun, pids: number[], admin: Admin, latency: boolean) {
  const { options } = run;
  const producers = latency ? 1 : options.producers;
  const consumers = latency ? 1 : options.consumers;
  await run.startConsumers(consumers, true);
  await run.startProducers(producers, { ratePerSecond: latency ? options.rate : 0 });
  const window = await measure(run, {
    warmupSeconds: options.warmup,
    seconds: options.seconds,
    pids,
  });
  await run.stopProducers();
  const backlogAfter = await admin.depth(run.queue);
  await run.stopConsumers();
  const extra = latency ? { rate: options.rate, backlogAfter } : { backlogAfter };
  return { producers, consumers, window, samples: run.recorder.samples, extra };
}

/** Runs one shape on a fresh quorum queue, deleted at the end, and returns its row. */
async function runQueueShape(
  options: QueueOptions,
  shape: QueueShape,
  context: { admin: Admin; pids: number[] },
): Promise<LoadResult> {
  const { admin, pids } = context;
  const queue = `${options.queue}-${shape}-${Date.now().toString(36)}`;
  await admin.declare(queue, options.replicas);
  const run = new ShapeRun(options, queue);
  try {
    const measured = shape === "produce"
      ? await runProduce(run, pids)
      : shape === "consume"
      ? await runConsume(run, pids, admin)
      : await runBoth(run, pids, admin, shape === "latency");
    return queueRow(options, { shape, ...measured });
  } finally {
    await run.close();
    await admin.drop(queue);
  }
}

/** Runs every shape `options.shape` names, `options.repeat` times; each row goes to `onRow`. */
export async function runQueueBench(
  options: QueueOptions,
  onRow: (row: LoadResult) => void,
): Promise<void> {
  const pids = readPidFiles(options.brokerPidFiles);
  const admin = await Admin.open(urlList(options.url)[0]);
  try {
    for (let round = 0; round < options.repeat; round++) {
      for (const shape of queueShapeList(options.shape)) {
        onRow(await runQueueShape(options, shape, { admin, pids }));
      }
    }
  } finally {
    await admin.close();
  }
}

function usage(): string {
  return `usage: deno run -A bench/rabbitmq_queue.ts [options]\noptions (defaults):\n${
    flagLines(defaultQueueOptions)
  }`;
}

if (import.meta.main) {
  if (Deno.args.includes("--help")) console.log(usage());
  else {
    let options: QueueOptions | null = null;
    try {
      options = parseQueueArgs(Deno.args);
    } catch (error) {
      console.error(`${errorText(error)}\n${usage()}`);
      Deno.exitCode = 2;
    }
    if (options !== null) {
      try {
        await runQueueBench(options, (row) => console.log(JSON.stringify(row)));
      } catch (error) {
        console.error(`rabbitmq_queue: ${errorText(error)}`);
        Deno.exitCode = 1;
      }
    }
  }
}
