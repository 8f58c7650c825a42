/**
 * Topic benchmarks of cmqd (whole system, through the SDK; not tests):
 *
 * - `fanout`: publishers keep `--inflight` publishes of `--batch` messages of `--size` bytes in
 *   flight each, to a routing-key topic bound to 3 queues (every message matches all three, as a
 *   RabbitMQ topic exchange bound to 3 queues). Counts published messages/s (each one is 3 queue
 *   copies, durable on a majority before the answer) and the publish request latency.
 * - `push`: publishes `--push-messages` messages (batches of `--batch`) as fast as it can to a
 *   topic with one URL subscription pointing at a no-op HTTP sink served by this process, and
 *   measures pushes/s (first publish to last push) and publish-to-push latency (`publishTimeMs` of
 *   the push body to its arrival at the sink, both on this machine's clock). Pushes queue up
 *   behind a faster publisher, so this latency includes that wait.
 * - `push-latency`: the same at a steady `--push-rate` messages/s for `--seconds`, so the latency
 *   is that of a push that does not wait behind a backlog.
 *
 * ```sh
 * deno run -A bench/topic_load.ts                             # a fresh broker, both shapes
 * deno run -A bench/topic_load.ts --shape fanout --seconds 30 --publishers 8
 * deno run -A bench/topic_load.ts --url http://127.0.0.1:9876  # an already-running broker
 * ```
 *
 * Options (defaults): `--shape fanout,push,push-latency --seconds 10 --warmup 2 --size 1024
 * --batch 16 --publishers 4 --inflight 4 --push-messages 20000 --push-rate 1000 --url ""
 * --broker-args "" --keep-data`.
 * Without `--url` it starts `main.ts` on a free port with a temporary data dir, waits for
 * `/readyz`, and stops it by PID (SIGTERM) and removes the dir at the end. One JSON line per
 * shape on stdout.
 *
 * @module
 */
import { CmqdClient } from "../sdk/mod.ts";
import { fanoutRow, percentile } from "./fanout_row.ts";
import { cpuSeconds, waitReady } from "./process_stats.ts";
import { type Sink, startSink, startSinkThread } from "./topic_sink.ts";

interface Options {
  shape: string;
  seconds: number;
  warmup: number;
  size: number;
  batch: number;
  publishers: number;
  inflight: number;
  pushMessages: number;
  pushRate: number;
  url: string;
  brokerArgs: string[];
  keepData: boolean;
  /** The broker's PID, for its CPU per push (set when this bench starts the broker). */
  brokerPid: number;
  /** Requests in flight against the sink in the `sink` shape. */
  sinkConcurrency: number;
  /** Serve the push shapes' sink on a worker thread, away from the publishers' event loop. */
  sinkThread: boolean;
}

function parseOptions(args: string[]): Options {
  const options: Options = {
    shape: "fanout,push,push-latency",
    seconds: 10,
    warmup: 2,
    size: 1024,
    batch: 16,
    publishers: 4,
    inflight: 4,
    pushMessages: 20_000,
    pushRate: 1000,
    url: "",
    brokerArgs: [],
    keepData: false,
    brokerPid: 0,
    sinkConcurrency: 16,
    sinkThread: false,
  };
  for (let index = 0; index < args.length; index++) {
    const flag = args[index];
    if (flag === "--keep-data" || flag === "--sink-thread") {
      options[flag === "--keep-data" ? "keepData" : "sinkThread"] = true;
      continue;
    }
    const value = args[++index];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    const key = flag.replace(/^--/, "").replace(/-([a-z])/g, (_, letter) => letter.toUpperCase());
    if (key === "shape" || key === "url") options[key] = value;
    else if (key === "brokerArgs") options.brokerArgs = value.split(/\s+/).filter(Boolean);
    else if (key in options && typeof options[key as keyof Options] === "number") {
      const number = Number(value);
      if (!Number.isFinite(number) || number < 0) throw new Error(`${flag}: not a number`);
      (options as unknown as Record<string, number>)[key] = number;
    } else throw new Error(`unknown option ${flag}`);
  }
  return options;
}

async function runFanout(client: CmqdClient, options: Options) {
  const stamp = Date.now().toString(36);
  const topic = `fanout-${stamp}`;
  await client.createTopic(topic, { filterType: "routingKey" });
  for (let index = 0; index < 3; index++) {
    const queue = `fanout-${stamp}-q${index}`;
    await client.createQueue(queue);
    await client.subscribe(topic, `q${index}`, {
      endpoint: { queue },
      bindingKeys: ["orders.#"],
    });
  }
  const body = "x".repeat(options.size);
  const messages = Array.from({ length: options.batch }, () => ({
    body,
    routingKey: "orders.eu.paid",
  }));
  const startMs = performance.now();
  const measureFromMs = startMs + options.warmup * 1000;
  let brokerCpuStart: number | null = null;
  setTimeout(() => {
    brokerCpuStart = options.brokerPid > 0 ? cpuSeconds(options.brokerPid) : null;
  }, options.warmup * 1000);
  const endMs = measureFromMs + options.seconds * 1000;
  let published = 0;
  const latenciesMs: number[] = [];
  const loop = async () => {
    while (performance.now() < endMs) {
      const sentAt = performance.now();
      await client.publish(topic, messages);
      const doneAt = performance.now();
      if (sentAt >= measureFromMs && doneAt <= endMs) {
        published += messages.length;
        latenciesMs.push(doneAt - sentAt);
      }
    }
  };
  await Promise.all(Array.from({ length: options.publishers * options.inflight }, loop));
  const brokerCpuEnd = options.brokerPid > 0 ? cpuSeconds(options.brokerPid) : null;
  const brokerCpu = brokerCpuStart === null || brokerCpuEnd === null
    ? null
    : brokerCpuEnd - brokerCpuStart;
  return fanoutRow({
    system: "cmqd",
    options,
    published,
    latenciesMs,
    brokerCpuSeconds: brokerCpu,
  });
}

/** CPU seconds of this process's main thread (the sink's), or null off Linux. */
function mainThreadCpuSeconds(): number | null {
  try {
    // On Linux the main thread's id is the process id.
    const stat = Deno.readTextFileSync(`/proc/self/task/${Deno.pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/** The sink alone, driven by `PushHttpClient` from a worker thread: its ceiling and its cost. */
async function runSink(options: Options) {
  const sink = startSink();
  const worker = new Worker(new URL("./topic_sink_load.ts", import.meta.url).href, {
    type: "module",
  });
  try {
    const cpuStart = mainThreadCpuSeconds();
    const startMs = performance.now();
    const done = new Promise<{ answered: number; failed: number }>((resolve) => {
      worker.onmessage = (event) => resolve(event.data);
    });
    worker.postMessage({
      url: sink.url,
      seconds: options.seconds,
      concurrency: options.sinkConcurrency,
      size: options.size,
    });
    const { answered, failed } = await done;
    const seconds = (performance.now() - startMs) / 1000;
    const cpuEnd = mainThreadCpuSeconds();
    const sinkCpu = cpuStart === null || cpuEnd === null ? null : cpuEnd - cpuStart;
    return {
      shape: "sink",
      size: options.size,
      concurrency: options.sinkConcurrency,
      requestsPerSec: Math.round(answered / seconds),
      failed,
      sinkCpuPct: sinkCpu === null ? null : Math.round((100 * sinkCpu) / seconds),
      sinkCpuUsPerRequest: sinkCpu === null || answered === 0
        ? null
        : Math.round((1e6 * sinkCpu) / answered),
    };
  } finally {
    worker.terminate();
    await sink.shutdown();
  }
}

async function runPush(client: CmqdClient, options: Options, mode: "push" | "latency" | "drain") {
  const paced = mode === "latency";
  const sink: Sink = options.sinkThread ? await startSinkThread() : startSink();
  if (mode === "drain") sink.hold();
  try {
    const topic = `push-${Date.now().toString(36)}`;
    await client.createTopic(topic);
    await client.subscribe(topic, "sink", {
      endpoint: { url: sink.url },
    });
    const body = "x".repeat(options.size);
    const messages = Array.from({ length: options.batch }, () => ({ body }));
    const batches = paced
      ? Math.ceil((options.pushRate * options.seconds) / options.batch)
      : Math.ceil(options.pushMessages / options.batch);
    let next = 0;
    const brokerCpuStart = options.brokerPid > 0 ? cpuSeconds(options.brokerPid) : null;
    const startMs = performance.now();
    const intervalMs = (1000 * options.batch) / Math.max(1, options.pushRate);
    const loop = async () => {
      while (next < batches) {
        const due = startMs + next * intervalMs;
        next++;
        if (paced && due > performance.now()) {
          await new Promise((resolve) => setTimeout(resolve, due - performance.now()));
        }
        await client.publish(topic, messages);
      }
    };
    await Promise.all(Array.from({ length: options.inflight }, loop));
    const publishedMs = performance.now();
    const total = batches * options.batch;
    // Drain: the whole backlog is pending now; the clock and the broker's CPU start here.
    const drainStartMs = performance.now();
    const drainCpuStart = options.brokerPid > 0 ? cpuSeconds(options.brokerPid) : null;
    if (mode === "drain") sink.unhold();
    const deadline = performance.now() + 120_000;
    while (sink.count() < total && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const brokerCpuEnd = options.brokerPid > 0 ? cpuSeconds(options.brokerPid) : null;
    const brokerCpu = brokerCpuStart === null || brokerCpuEnd === null
      ? null
      : brokerCpuEnd - brokerCpuStart;
    const { latenciesMs, duplicates } = await sink.report();
    const pushed = sink.count();
    const lastPushMs = sink.lastPushMs();
    if (mode === "drain") {
      const cpu = drainCpuStart === null || brokerCpuEnd === null
        ? null
        : brokerCpuEnd - drainCpuStart;
      return {
        shape: "push-drain",
        size: options.size,
        messages: total,
        pushed,
        pushesPerSec: Math.round(pushed / ((lastPushMs - drainStartMs) / 1000)),
        brokerCpuUsPerPush: cpu === null || pushed === 0 ? null : Math.round((1e6 * cpu) / pushed),
      };
    }
    return {
      shape: paced ? "push-latency" : "push",
      rate: paced ? options.pushRate : null,
      size: options.size,
      batch: options.batch,
      messages: total,
      pushed,
      duplicates,
      publishPerSec: Math.round(total / ((publishedMs - startMs) / 1000)),
      pushesPerSec: Math.round(pushed / ((lastPushMs - startMs) / 1000)),
      pushP50Ms: percentile(latenciesMs, 0.5),
      pushP99Ms: percentile(latenciesMs, 0.99),
      pushMaxMs: latenciesMs.at(-1) ?? null,
      // Everything the broker spent while the run lasted (publishes, pushes, their outcomes)
      // per message pushed: a figure less bent by other load on the machine than pushes/s.
      brokerCpuUsPerPush: brokerCpu === null || pushed === 0
        ? null
        : Math.round((1e6 * brokerCpu) / pushed),
    };
  } finally {
    await sink.shutdown();
  }
}

async function startBroker(options: Options) {
  const workDir = await Deno.makeTempDir({ prefix: "cmqd-topic-bench-" });
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const main = new URL("../main.ts", import.meta.url).pathname;
  const log = await Deno.open(`${workDir}/broker.log`, { write: true, create: true });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--unstable-no-legacy-abort",
      main,
      "--port",
      String(port),
      "--data-dir",
      `${workDir}/data`,
      ...options.brokerArgs,
    ],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const logged = child.stdout.pipeTo(log.writable);
  const url = `http://127.0.0.1:${port}`;
  if (await waitReady(url, 60_000, { process: child }) === null) {
    throw new Error(`broker not ready: ${workDir}`);
  }
  return {
    url,
    pid: child.pid,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await logged.catch(() => {});
      if (!options.keepData) await Deno.remove(workDir, { recursive: true });
      else console.error(`data and log kept in ${workDir}`);
    },
  };
}

if (import.meta.main) {
  const options = parseOptions(Deno.args);
  const needsBroker = options.shape.split(",").some((shape) => shape !== "sink");
  const broker = options.url === "" && needsBroker ? await startBroker(options) : null;
  if (broker !== null) options.brokerPid = broker.pid;
  const baseUrl = options.url || broker?.url || "http://127.0.0.1:9876";
  const client = new CmqdClient({ baseUrl, timeoutMs: 30_000 });
  try {
    for (const shape of options.shape.split(",")) {
      const row = shape === "fanout"
        ? await runFanout(client, options)
        : shape === "sink"
        ? await runSink(options)
        : shape === "push" || shape === "push-latency" || shape === "push-drain"
        ? await runPush(
          client,
          options,
          shape === "push" ? "push" : shape === "push-latency" ? "latency" : "drain",
        )
        : (() => {
          throw new Error(`unknown shape ${shape}`);
        })();
      console.log(JSON.stringify(row));
    }
  } finally {
    await broker?.stop();
  }
}
