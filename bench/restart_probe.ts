/**
 * Restart probe: fills a data directory with a backlog once, then kill -9s the broker and times
 * restarts of one or more `main.ts` builds on that same directory, side by side.
 *
 * ```sh
 * deno run -A bench/restart_probe.ts --data-dir /tmp/probe --messages 1000000 --size 2048
 * # 10 GB, written fast (8 senders × 4 requests of 128 messages in flight):
 * deno run -A bench/restart_probe.ts --data-dir /tmp/probe --messages 5000000 --size 2048 \
 *   --fill-producers 8 --fill-batch 128
 * # opened from the persisted indexes, then with every index file removed (a scanning start):
 * deno run -A bench/restart_probe.ts --data-dir /tmp/probe --modes index,scan --rounds 2
 * # the same log opened by an older build and by this one, twice each, in one run:
 * deno run -A bench/restart_probe.ts --data-dir /tmp/probe --messages 1000000 --size 2048 \
 *   --mains /tmp/base/main.ts,main.ts --rounds 2
 * # one build with and without a V8 flag (`--run-flags` go to `deno run`, one entry per main):
 * deno run -A bench/restart_probe.ts --data-dir /tmp/probe --mains dist/cmqd.js,dist/cmqd.js \
 *   --run-flags ";--v8-flags=--gc-memory-reducer-start-delay-ms=1000"
 * ```
 *
 * Each restart is launched, polled on `/readyz` until 200, the queue's backlog is read (it must be
 * the whole backlog), the broker's RSS is read from `/proc/PID/status`, and then it is killed with
 * SIGKILL (by PID) after `--settle-ms` (3000) — so every restart opens a log that was not shut
 * down cleanly. Each build is also started once on an empty temporary directory: its RSS after
 * the same settle is what any broker holds, and a restart's settled RSS above it, per message, is
 * what the backlog costs (`rssBytesPerMessageAboveEmpty`). The broker's own
 * startup report (its stdout) is printed beside each row. The data directory is kept (`rm -rf` it
 * yourself); `--fresh` empties it first. One JSON line per restart on stdout.
 *
 * @module
 */
import { parseLoadArgs } from "./load_options.ts";
import { groupPlan, prefill } from "./load_shapes.ts";
import { createBenchClient } from "./bench_client.ts";
import {
  freePort,
  loneNodeArgs,
  type RssBreakdown,
  rssBreakdownFromProc,
  waitReady,
} from "./process_stats.ts";

interface ProbeOptions {
  dataDir: string;
  messages: number;
  size: number;
  mains: string[];
  rounds: number;
  fresh: boolean;
  brokerArgs: string[];
  /**
   * Flags for `deno run` itself, one entry per `--mains` entry (`--run-flags` separates them with
   * `;`, each entry's flags with spaces): e.g. `--v8-flags=...` for one build of two.
   */
  runFlags: string[][];
  /** How long a restarted broker runs after it was measured, before the kill. */
  settleMs: number;
  /** Concurrent senders while filling (each with `--inflight` 4 requests in flight). */
  fillProducers: number;
  /** Messages per send request while filling (the API takes up to 256). */
  fillBatch: number;
  /**
   * How each round opens the log: `index` as it is (sealed segments from their persisted
   * index), `scan` after removing every `.index` file (every segment scanned, as a fresh start).
   */
  modes: OpenMode[];
}

type OpenMode = "index" | "scan";

const queueName = "restart-probe";
const markerName = "restart-probe.json";

function parseArgs(args: string[]): ProbeOptions {
  const options: ProbeOptions = {
    dataDir: "",
    messages: 1_000_000,
    size: 2048,
    mains: ["main.ts"],
    rounds: 1,
    fresh: false,
    brokerArgs: [],
    runFlags: [],
    settleMs: 3000,
    fillProducers: 4,
    fillBatch: 16,
    modes: ["index"],
  };
  for (let index = 0; index < args.length; index++) {
    const flag = args[index];
    const value = args[index + 1] ?? "";
    if (flag === "--fresh") {
      options.fresh = true;
      continue;
    }
    index++;
    if (flag === "--data-dir") options.dataDir = value;
    else if (flag === "--messages") options.messages = Number(value);
    else if (flag === "--size") options.size = Number(value);
    else if (flag === "--mains") options.mains = value.split(",").filter(Boolean);
    else if (flag === "--rounds") options.rounds = Number(value);
    else if (flag === "--settle-ms") options.settleMs = Number(value);
    else if (flag === "--fill-producers") options.fillProducers = Number(value);
    else if (flag === "--fill-batch") options.fillBatch = Number(value);
    else if (flag === "--modes") options.modes = value.split(",").filter(Boolean) as OpenMode[];
    else if (flag === "--broker-args") options.brokerArgs = value.split(/\s+/).filter(Boolean);
    else if (flag === "--run-flags") {
      options.runFlags = value.split(";").map((entry) => entry.split(/\s+/).filter(Boolean));
    } else throw new Error(`unknown option ${flag}`);
  }
  if (options.dataDir === "") throw new Error("--data-dir is required");
  if (!(options.messages > 0 && options.size >= 32 && options.rounds >= 1)) {
    throw new Error("--messages > 0, --size ≥ 32 and --rounds ≥ 1");
  }
  if (!(options.fillProducers >= 1 && options.fillBatch >= 1 && options.fillBatch <= 256)) {
    throw new Error("--fill-producers ≥ 1 and --fill-batch between 1 and 256");
  }
  if (
    options.modes.length === 0 || options.modes.some((mode) => !["index", "scan"].includes(mode))
  ) {
    throw new Error("--modes is a list of index, scan");
  }
  return options;
}

interface Broker {
  child: Deno.ChildProcess;
  url: string;
  output: Promise<string>;
}

/** One build under test: its entry file and the flags `deno run` gets for it. */
interface Build {
  main: string;
  runFlags: string[];
}

function startBroker(build: Build, options: ProbeOptions): Broker {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      ...build.runFlags,
      build.main,
      ...loneNodeArgs(port, options.dataDir),
      ...options.brokerArgs,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    let text = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) text += chunk;
    return text;
  };
  const output = Promise.all([collect(child.stdout), collect(child.stderr)]).then((parts) =>
    parts.join("")
  );
  return { child, url: `http://127.0.0.1:${port}`, output };
}

async function killHard(broker: Broker): Promise<string> {
  try {
    broker.child.kill("SIGKILL");
  } catch {
    // already gone
  }
  await broker.child.status;
  return await broker.output;
}

async function fill(options: ProbeOptions): Promise<void> {
  const broker = startBroker({ main: "main.ts", runFlags: [] }, options);
  try {
    if ((await waitReady(broker.url, 120_000, { process: broker.child })) === null) {
      throw new Error("broker never ready");
    }
    const load = parseLoadArgs([
      "--url",
      broker.url,
      "--size",
      String(options.size),
      "--producers",
      String(options.fillProducers),
      "--batch",
      String(options.fillBatch),
    ]);
    const client = await createBenchClient(broker.url, load.client);
    await client.createQueue(queueName, { visibilityTimeoutSeconds: 60 });
    client.close();
    const filled = await prefill(load, groupPlan(load, queueName, "backlog"), options.messages);
    console.error(
      `restart_probe: filled ${filled.messages} messages of ${options.size} B in ` +
        `${filled.seconds.toFixed(1)} s (${filled.errors} errors)`,
    );
    Deno.writeTextFileSync(
      `${options.dataDir}/${markerName}`,
      JSON.stringify({ messages: filled.messages, size: options.size }),
    );
  } finally {
    await killHard(broker);
  }
}

/** Removes every persisted segment index under `dir`: the next open scans every segment. */
function removeIndexFiles(dir: string): number {
  let removed = 0;
  for (const entry of Deno.readDirSync(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) removed += removeIndexFiles(path);
    else if (entry.name.endsWith(".index")) {
      Deno.removeSync(path);
      removed++;
    }
  }
  return removed;
}

/**
 * RSS of the same build on an empty data directory, read after the same settle as a restart's
 * second reading: the part of a restart's RSS that any broker holds, whatever its backlog.
 */
async function emptyBrokerRss(build: Build, options: ProbeOptions): Promise<RssBreakdown | null> {
  const dataDir = await Deno.makeTempDir({ prefix: "cmqd-empty-" });
  const broker = startBroker(build, { ...options, dataDir });
  try {
    if (await waitReady(broker.url, 60_000, { process: broker.child }) === null) return null;
    await new Promise((resolve) => setTimeout(resolve, options.settleMs));
    return rssBreakdownFromProc(broker.child.pid);
  } finally {
    await killHard(broker);
    await Deno.remove(dataDir, { recursive: true });
  }
}

async function restartOnce(
  build: Build,
  options: ProbeOptions,
  round: number,
  mode: OpenMode,
  empty: RssBreakdown | null,
) {
  const indexFilesRemoved = mode === "scan" ? removeIndexFiles(options.dataDir) : 0;
  const startMs = performance.now();
  const broker = startBroker(build, options);
  let row: Record<string, unknown> = {
    main: build.main,
    runFlags: build.runFlags.join(" "),
    round,
    mode,
    indexFilesRemoved,
  };
  try {
    const readyMs = await waitReady(broker.url, 600_000, { process: broker.child });
    const restartToReadyMs = readyMs === null ? null : performance.now() - startMs;
    const client = await createBenchClient(broker.url, "sdk");
    const described = await client.getQueue(queueName);
    client.close();
    const backlog = described.activeMessages + described.inflightMessages;
    const rss = rssBreakdownFromProc(broker.child.pid);
    const perMessage = (bytes: number | undefined) =>
      bytes === undefined ? null : Math.round((bytes / backlog) * 10) / 10;
    row = {
      ...row,
      restartToReadyMs: restartToReadyMs === null ? null : Math.round(restartToReadyMs),
      backlog,
      ...rss,
      rssBytesPerMessage: perMessage(rss?.rssBytes),
      rssAnonBytesPerMessage: perMessage(rss?.rssAnonBytes),
    };
    // Background work of the open (index files of scanned segments) gets its time, as in a
    // broker that keeps running; the kill then comes at an idle moment.
    await new Promise((resolve) => setTimeout(resolve, options.settleMs));
    const settled = rssBreakdownFromProc(broker.child.pid);
    row.rssAfterSettleBytes = settled?.rssBytes ?? null;
    row.rssAnonAfterSettleBytes = settled?.rssAnonBytes ?? null;
    // What the backlog itself costs: the settled RSS above an empty broker's.
    row.rssEmptyBrokerBytes = empty?.rssBytes ?? null;
    row.rssBytesPerMessageAboveEmpty = settled && empty
      ? perMessage(settled.rssBytes - empty.rssBytes)
      : null;
  } finally {
    const output = await killHard(broker);
    row.report = output.split("\n").filter((line) => /opened|ready|serving/.test(line));
  }
  return row;
}

async function main(): Promise<void> {
  const options = parseArgs(Deno.args);
  if (options.fresh) {
    try {
      Deno.removeSync(options.dataDir, { recursive: true });
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  Deno.mkdirSync(options.dataDir, { recursive: true });
  let filled = false;
  try {
    Deno.statSync(`${options.dataDir}/${markerName}`);
    filled = true;
  } catch {
    // not yet
  }
  if (!filled) await fill(options);
  const builds = options.mains.map((main, index) => ({
    main,
    runFlags: options.runFlags[index] ?? [],
  }));
  const empties = new Map<Build, RssBreakdown | null>();
  for (const build of builds) empties.set(build, await emptyBrokerRss(build, options));
  for (let round = 1; round <= options.rounds; round++) {
    for (const build of builds) {
      for (const mode of options.modes) {
        const row = await restartOnce(build, options, round, mode, empties.get(build)!);
        console.log(JSON.stringify(row));
      }
    }
  }
}

if (import.meta.main) await main();
