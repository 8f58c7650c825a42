/**
 * Scale probe (issue 12's "Scale" line): does a broker holding many idle queues and many parked
 * long polls still serve one busy queue as fast as it serves that queue alone, and what does an
 * idle queue cost in RSS?
 *
 * ```sh
 * deno run -A bench/scale_probe.ts                       # 9,999 idle queues + the measured one
 * deno run -A bench/scale_probe.ts --queues 2000 --parked 200 --seconds 5 --prefill 50000
 * ```
 *
 * Two fresh brokers side by side (`main.ts` on free ports, temporary data dirs, stopped by PID
 * with SIGTERM, dirs removed at the end):
 *
 * - **crowded**: RSS once it is ready, then after creating `--queues` idle queues, then after
 *   parking `--parked` long polls on them → RSS per idle queue and per parked poll (nothing else
 *   has run on it yet). Each reading is the lowest RSS over `--idle-seconds` (30) of idling, so
 *   it counts what the broker holds, not the garbage of the burst of requests before it (V8
 *   collects that on its own once the isolate idles); the reading right after the creates is
 *   reported too. The polls stay parked to the end (each re-polls when
 *   its wait ends); `/metrics` `cmqd_parked_receives` shows they were.
 * - **alone**: nothing but the measured queue.
 *
 * Each of `--rounds` (2) rounds runs the load generator's produce and consume shapes (`load.ts`'s
 * runner; its flags pass through: `--seconds`, `--producers`, ...) on alone, then on crowded;
 * the ratios are crowded / alone of the medians. Other processes sharing the cores move the
 * figures from one minute to the next: interleaving makes such changes hit both sides alike.
 *
 * The broker's default `queuesMax` is 10,000 and every shape creates its own fresh queue, so the
 * default `--queues` is 9,999: 10,000 queues in all while a shape runs.
 *
 * The polls are plain `fetch` calls of this process on one `Deno.HttpClient`: HTTP/1.1
 * keep-alive, one connection per parked poll (1,000 sockets fit the usual 1,024 descriptor limit
 * only barely: raise `ulimit -n` or use `--parked` below it). One JSON line per figure on stdout.
 *
 * @module
 */
import { parseLoadArgs, runLoad } from "./load.ts";
import type { LoadResult } from "./load_shapes.ts";
import { freePort, loneNodeArgs, rssFromProc, waitReady } from "./process_stats.ts";

interface ScaleOptions {
  queues: number;
  parked: number;
  /** Flags handed to the load generator as they are (`--seconds`, `--producers`, ...). */
  load: string[];
  /** Concurrent queue creates. */
  createConcurrency: number;
  settleMs: number;
  /** Rounds of alone-then-crowded; the ratios are of the medians. */
  rounds: number;
  /** Idle seconds over which each memory reading takes the lowest RSS. */
  idleSeconds: number;
}

function parseArgs(args: string[]): ScaleOptions {
  const options: ScaleOptions = {
    queues: 9_999,
    parked: 1_000,
    load: [],
    createConcurrency: 64,
    settleMs: 3_000,
    rounds: 2,
    idleSeconds: 30,
  };
  for (let index = 0; index < args.length; index += 2) {
    const [flag, value] = [args[index], args[index + 1] ?? ""];
    if (flag === "--queues") options.queues = Number(value);
    else if (flag === "--parked") options.parked = Number(value);
    else if (flag === "--create-concurrency") options.createConcurrency = Number(value);
    else if (flag === "--settle-ms") options.settleMs = Number(value);
    else if (flag === "--rounds") options.rounds = Number(value);
    else if (flag === "--idle-seconds") options.idleSeconds = Number(value);
    else options.load.push(flag, value);
  }
  if (!(options.queues >= 1 && options.parked >= 0 && options.parked <= options.queues)) {
    throw new Error("--queues ≥ 1 and 0 ≤ --parked ≤ --queues");
  }
  if (!(options.rounds >= 1)) throw new Error("--rounds ≥ 1");
  if (!(options.idleSeconds >= 0)) throw new Error("--idle-seconds ≥ 0");
  return options;
}

interface Broker {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

async function startBroker(): Promise<Broker> {
  const dir = await Deno.makeTempDir({ prefix: "cmqd-scale-" });
  const port = freePort();
  const main = new URL("../main.ts", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...["run", "-A", "--unstable-no-legacy-abort", main],
      ...loneNodeArgs(port, `${dir}/data`),
    ],
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
    await child.status;
    await Deno.remove(dir, { recursive: true });
  };
  if (await waitReady(url, 120_000, { process: child }) === null) {
    await stop();
    throw new Error("broker never got ready");
  }
  return { url, pid: child.pid, stop };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const json = { "content-type": "application/json" };
const idleName = (index: number) => `idle-${String(index).padStart(5, "0")}`;

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(new RegExp(`^${name} ([0-9.eE+]+)$`, "m").exec(text)?.[1] ?? NaN);
}

/** Creates the idle queues, `concurrency` at a time; returns the seconds it took. */
async function createQueues(url: string, count: number, concurrency: number): Promise<number> {
  const startMs = performance.now();
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const name = idleName(next++);
      const response = await fetch(`${url}/v1/queues/${name}`, {
        method: "PUT",
        headers: json,
        body: "{}",
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`create ${name}: ${response.status} ${text}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return (performance.now() - startMs) / 1000;
}

/** Long polls kept parked on the first `count` idle queues, one each, until `stop`. */
function parkPolls(url: string, count: number) {
  const client = Deno.createHttpClient({});
  const controller = new AbortController();
  let answered = 0;
  let failed = 0;
  const poller = async (index: number) => {
    while (!controller.signal.aborted) {
      try {
        const response = await fetch(`${url}/v1/queues/${idleName(index)}/messages/receive`, {
          method: "POST",
          headers: json,
          body: JSON.stringify({ maxMessages: 1, waitSeconds: 30 }),
          signal: controller.signal,
          client,
        });
        await response.text();
        if (response.ok) answered++;
        else failed++;
      } catch {
        if (!controller.signal.aborted) failed++;
      }
    }
  };
  const running = Array.from({ length: count }, (_, index) => poller(index));
  return {
    get answered() {
      return answered;
    },
    get failed() {
      return failed;
    },
    async stop() {
      controller.abort();
      await Promise.allSettled(running);
      client.close();
    },
  };
}

/** Waits until `/metrics` shows `count` parked receives (bounded). */
async function waitParked(url: string, count: number): Promise<number> {
  let parked = 0;
  for (let waited = 0; waited < 30_000; waited += 100) {
    parked = await metric(url, "cmqd_parked_receives");
    if (parked >= count) break;
    await sleep(100);
  }
  return parked;
}

const emit = (row: Record<string, unknown>) => console.log(JSON.stringify(row));

/**
 * The lowest RSS read once a second over `seconds` of idling: what the broker holds once V8 has
 * collected the garbage of the last burst of requests (an idle isolate collects it on its own
 * within seconds; no GC is forced).
 */
async function settledRss(pid: number, seconds: number): Promise<number> {
  let lowest = rssFromProc(pid)!;
  for (let second = 0; second < seconds; second++) {
    await sleep(1_000);
    lowest = Math.min(lowest, rssFromProc(pid)!);
  }
  return lowest;
}

/**
 * The crowded broker: RSS fresh, after the idle queues, after the parked polls (nothing else has
 * run on it, so its heap holds no garbage of a load run that the new queues could fill).
 */
async function crowd(broker: Broker, options: ScaleOptions) {
  await sleep(options.settleMs);
  const rssFresh = await settledRss(broker.pid, options.idleSeconds);
  const machineFresh = await metric(broker.url, "cmqd_state_machine_bytes");
  const createSeconds = await createQueues(broker.url, options.queues, options.createConcurrency);
  await sleep(options.settleMs);
  const rssCreating = rssFromProc(broker.pid)!;
  const rssQueues = await settledRss(broker.pid, options.idleSeconds);
  const machineQueues = await metric(broker.url, "cmqd_state_machine_bytes");
  const polls = parkPolls(broker.url, options.parked);
  const parked = await waitParked(broker.url, options.parked);
  const rssParked = await settledRss(broker.pid, options.idleSeconds);
  const perQueue = (bytes: number) => Math.round((bytes - rssFresh) / options.queues);
  emit({
    system: "cmqd",
    probe: "scale-memory",
    queues: options.queues,
    createSeconds: Math.round(createSeconds * 10) / 10,
    idleSeconds: options.idleSeconds,
    rssFreshBytes: rssFresh,
    rssQueuesBytes: rssQueues,
    rssBytesPerIdleQueue: perQueue(rssQueues),
    rssBytesPerIdleQueueRightAfterCreating: perQueue(rssCreating),
    stateMachineBytesPerIdleQueue: Math.round((machineQueues - machineFresh) / options.queues),
    parked,
    rssParkedBytes: rssParked,
    rssBytesPerParkedPoll: options.parked === 0
      ? null
      : Math.round((rssParked - rssQueues) / options.parked),
  });
  return polls;
}

async function shapes(broker: Broker, options: ScaleOptions, config: string) {
  const load = parseLoadArgs([
    ...["--url", broker.url, "--pid", String(broker.pid), "--shape", "produce,consume"],
    ...["--producers", "4", "--consumers", "4", "--prefill", "100000", "--seconds", "8"],
    ...options.load,
    ...["--config", config],
  ]);
  return await runLoad(load, { onResult: (row) => emit({ probe: "scale-load", ...row }) });
}

function figure(rows: LoadResult[], shape: string): number {
  const row = rows.find((candidate) => candidate.shape === shape);
  const value = shape === "produce" ? row?.producedPerSec : row?.consumedPerSec;
  return value ?? NaN;
}

/** The broker's CPU per message (µs): moves less than a rate when other work shares the cores. */
function cpuPerMessage(rows: LoadResult[], shape: string): number {
  const row = rows.find((candidate) => candidate.shape === shape);
  const percent = Number(row?.brokerCpuPct ?? NaN);
  return Math.round((percent * 10_000 / figure(rows, shape)) * 10) / 10;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((x, y) => x - y);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

/**
 * Two brokers side by side: one with only the measured queue ("alone"), one crowded with the
 * idle queues and the parked polls; each round runs the shapes on one, then the other, so a
 * change in the machine's load (other processes share the cores) hits both alike.
 */
async function compare(options: ScaleOptions): Promise<void> {
  const alone = await startBroker();
  const crowded = await startBroker();
  let polls: Awaited<ReturnType<typeof crowd>> | null = null;
  try {
    polls = await crowd(crowded, options);
    const label = `${options.queues}-idle-queues-${options.parked}-parked`;
    const rounds: Record<string, number>[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      const base = await shapes(alone, options, "one-queue");
      const busy = await shapes(crowded, options, label);
      const row = {
        produceAlone: figure(base, "produce"),
        produceCrowded: figure(busy, "produce"),
        consumeAlone: figure(base, "consume"),
        consumeCrowded: figure(busy, "consume"),
        produceCpuUsPerMessageAlone: cpuPerMessage(base, "produce"),
        produceCpuUsPerMessageCrowded: cpuPerMessage(busy, "produce"),
        consumeCpuUsPerMessageAlone: cpuPerMessage(base, "consume"),
        consumeCpuUsPerMessageCrowded: cpuPerMessage(busy, "consume"),
      };
      rounds.push(row);
      emit({ system: "cmqd", probe: "scale-round", round, ...row });
    }
    const pick = (key: string) => median(rounds.map((row) => row[key]));
    const ratio = (shape: string) =>
      Math.round((pick(`${shape}Crowded`) / pick(`${shape}Alone`)) * 1000) / 1000;
    emit({
      system: "cmqd",
      probe: "scale-ratio",
      queues: options.queues,
      rounds: options.rounds,
      parkedAfter: await metric(crowded.url, "cmqd_parked_receives"),
      pollFailures: polls.failed,
      produceAlone: pick("produceAlone"),
      produceCrowded: pick("produceCrowded"),
      produceRatio: ratio("produce"),
      consumeAlone: pick("consumeAlone"),
      consumeCrowded: pick("consumeCrowded"),
      consumeRatio: ratio("consume"),
      produceCpuRatio: Math.round(
        (pick("produceCpuUsPerMessageCrowded") / pick("produceCpuUsPerMessageAlone")) * 1000,
      ) / 1000,
      consumeCpuRatio: Math.round(
        (pick("consumeCpuUsPerMessageCrowded") / pick("consumeCpuUsPerMessageAlone")) * 1000,
      ) / 1000,
      // Both brokers went through the same load: the difference is what the idle queues and
      // the parked polls hold, heap growth of the load itself cancelled out.
      rssAloneBytes: rssFromProc(alone.pid),
      rssCrowdedBytes: rssFromProc(crowded.pid),
    });
  } finally {
    await polls?.stop();
    await crowded.stop();
    await alone.stop();
  }
}

if (import.meta.main) {
  const options = parseArgs(Deno.args);
  await compare(options);
}
