/**
 * Side-by-side load run (`deno task load`): starts the no-op server and a fresh broker (`main.ts`
 * on a free port with a temporary data dir), runs each shape against the no-op server first (the
 * ceiling of this generator on this machine) and then against the broker, prints every JSON line
 * on stdout and a table of ratios (cmqd / no-op) on stderr, then stops both by PID and removes the
 * data dir.
 *
 * ```sh
 * deno run -A bench/run_all.ts --shape all --seconds 10 --producers 4 --consumers 4
 * deno run -A bench/run_all.ts --url http://127.0.0.1:8080   # an already-running broker
 * deno run -A bench/run_all.ts --shape backlog --backlog-messages 1000000
 * ```
 *
 * Options of its own: `--url` (skip starting a broker), `--skip-noop`, `--skip-broker`,
 * `--broker-args "..."` (more flags for main.ts), `--program dist/cmqd.js` (start that instead of
 * `main.ts`: the bundle `deno task build` makes, which servers run), `--out file.jsonl` (append
 * the lines there too), `--keep-data`, `--doors` (after v1, the shapes through the CMQ and SQS doors of the same broker,
 * each beside v1 in the door's request pattern, `--repeat` rounds interleaved, and a table of
 * median ratios: `door_compare.ts`), `--doors-only` (`--doors` without the plain v1 run). Every
 * other option goes to the load generator (see `load_options.ts`).
 *
 * @module
 */

import {
  type LoadOptions,
  type LoadResult,
  parseLoadArgs,
  runLoad,
  usage as loadUsage,
} from "./load.ts";
import { freePort, waitReady } from "./process_stats.ts";
import { doorTable, runDoorComparison } from "./door_compare.ts";

/** run_all's own options; the rest are load options. */
interface RunAllOptions {
  url: string;
  skipNoop: boolean;
  skipBroker: boolean;
  brokerArgs: string[];
  out: string;
  keepData: boolean;
  /** Also run the shapes through the CMQ and SQS doors on the same broker, after v1. */
  doors: boolean;
  /** The door comparison alone (no plain v1 run). */
  doorsOnly: boolean;
  /** The broker program `deno run` starts: `main.ts`, or e.g. the bundle `deno task build` makes. */
  program: string;
}

const ownFlags = [
  "--url",
  "--skip-noop",
  "--skip-broker",
  "--broker-args",
  "--out",
  "--keep-data",
  "--doors",
  "--doors-only",
  "--program",
];
const booleanFlags = new Set([
  "--skip-noop",
  "--skip-broker",
  "--keep-data",
  "--doors",
  "--doors-only",
]);

/** Splits run_all's own flags from the load generator's. */
export function splitArgs(args: string[]): { own: RunAllOptions; load: string[] } {
  const own: RunAllOptions = {
    url: "",
    skipNoop: false,
    skipBroker: false,
    brokerArgs: [],
    out: "",
    keepData: false,
    doors: false,
    doorsOnly: false,
    program: new URL("../main.ts", import.meta.url).pathname,
  };
  const load: string[] = [];
  for (let index = 0; index < args.length; index++) {
    const [flag, joined] = args[index].split(/=(.*)/s, 2);
    if (!ownFlags.includes(flag)) {
      load.push(args[index]);
      continue;
    }
    const value = booleanFlags.has(flag) ? "true" : joined ?? args[++index] ?? "";
    if (flag === "--url") own.url = value;
    else if (flag === "--skip-noop") own.skipNoop = true;
    else if (flag === "--skip-broker") own.skipBroker = true;
    else if (flag === "--broker-args") own.brokerArgs = value.split(/\s+/).filter(Boolean);
    else if (flag === "--out") own.out = value;
    else if (flag === "--keep-data") own.keepData = true;
    else if (flag === "--doors") own.doors = true;
    else if (flag === "--doors-only") own.doors = own.doorsOnly = true;
    else if (flag === "--program") own.program = value;
  }
  return { own, load };
}

/** A server process this run started; stopped by its PID. */
interface Started {
  url: string;
  /** Absent when the broker was already running (`--url`). */
  child?: Deno.ChildProcess;
  restart?: () => Promise<{ pid: number }>;
  stop(): Promise<void>;
}

async function spawnServer(args: string[], logPath: string): Promise<Deno.ChildProcess> {
  const log = await Deno.open(logPath, { create: true, append: true });
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  // Both streams must be drained or the server blocks on a full pipe.
  const writer = log.writable.getWriter();
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) await writer.write(chunk);
  };
  Promise.all([drain(child.stdout), drain(child.stderr)]).finally(() =>
    writer.close().catch(() => {})
  );
  return child;
}

async function stopChild(child: Deno.ChildProcess, signal: Deno.Signal): Promise<void> {
  try {
    child.kill(signal);
  } catch {
    // already gone
  }
  await child.status;
}

const readyTimeoutMs = 120_000;

async function startNoop(workDir: string): Promise<Started> {
  const port = freePort();
  const script = new URL("./noop_server.ts", import.meta.url).pathname;
  const child = await spawnServer(
    ["run", "-A", script, "--port", String(port)],
    `${workDir}/noop.log`,
  );
  const url = `http://127.0.0.1:${port}`;
  if (await waitReady(url, readyTimeoutMs, { process: child }) === null) {
    throw new Error("no-op server never got ready");
  }
  return { url, child, stop: () => stopChild(child, "SIGKILL") };
}

async function startBroker(
  workDir: string,
  extraArgs: string[],
  main: string,
): Promise<Started> {
  const port = freePort();
  const dataDir = `${workDir}/data`;
  // The flag of `deno task start`: without it Deno aborts every request's signal once answered.
  const args = ["run", "-A", "--unstable-no-legacy-abort", main, "--port", String(port)];
  args.push("--host", "127.0.0.1");
  args.push("--data-dir", dataDir, ...extraArgs);
  const url = `http://127.0.0.1:${port}`;
  const started: Started = {
    url,
    child: await spawnServer(args, `${workDir}/broker.log`),
    // Graceful stop, so the restart measures recovery of a cleanly closed log.
    stop: () => started.child ? stopChild(started.child, "SIGTERM") : Promise.resolve(),
    restart: async () => {
      if (started.child) await stopChild(started.child, "SIGTERM");
      const child = await spawnServer(args, `${workDir}/broker.log`);
      started.child = child;
      return { pid: child.pid };
    },
  };
  const ready = await waitReady(url, readyTimeoutMs, { process: started.child }).catch((error) => {
    throw new Error(`${error.message}; see ${workDir}/broker.log`);
  });
  if (ready === null) {
    await started.stop();
    throw new Error(`broker never got ready; see ${workDir}/broker.log`);
  }
  return started;
}

function ratioTable(
  noop: LoadResult[],
  broker: LoadResult[],
  labels: [string, string] = ["no-op", "cmqd"],
): string {
  const [base, other] = labels;
  const format = (value: unknown) => (typeof value === "number" ? String(value) : "–");
  const ratio = (a: unknown, b: unknown) =>
    typeof a === "number" && typeof b === "number" && b > 0 ? `${Math.round((100 * a) / b)}%` : "–";
  const lines = [
    `| shape | ${base} produced/s | ${other} produced/s | ratio | ${base} consumed/s | ${other} consumed/s | ratio | ${base} p50/p99 ms | ${other} p50/p99 ms |`,
    "|---|---|---|---|---|---|---|---|---|",
  ];
  for (let index = 0; index < Math.max(noop.length, broker.length); index++) {
    const n = noop[index] ?? ({} as Partial<LoadResult>);
    const c = broker[index] ?? ({} as Partial<LoadResult>);
    lines.push(
      `| ${c.shape ?? n.shape} | ${format(n.producedPerSec)} | ${format(c.producedPerSec)} | ${
        ratio(c.producedPerSec, n.producedPerSec)
      } | ${format(n.consumedPerSec)} | ${format(c.consumedPerSec)} | ${
        ratio(c.consumedPerSec, n.consumedPerSec)
      } | ${format(n.p50ms)} / ${format(n.p99ms)} | ${format(c.p50ms)} / ${format(c.p99ms)} |`,
    );
  }
  return lines.join("\n");
}

async function runAgainst(
  target: Started,
  options: LoadOptions,
  emit: (result: LoadResult) => void,
): Promise<LoadResult[]> {
  const results: LoadResult[] = [];
  await runLoad({ ...options, url: target.url, pid: options.pid || target.child?.pid || 0 }, {
    restart: target.restart,
    onResult: (result) => {
      results.push(result);
      emit(result);
    },
  });
  return results;
}

const ownUsage = "usage: deno run -A bench/run_all.ts [--url URL] [--skip-noop] [--skip-broker] " +
  '[--broker-args "..."] [--program main.ts] [--out file.jsonl] [--keep-data] [--doors] [--doors-only] ' +
  "[load options]";

async function main(): Promise<void> {
  if (Deno.args.includes("--help")) {
    console.log(`${ownUsage}\n${loadUsage()}`);
    Deno.exit(0);
  }
  const { own, load } = splitArgs(Deno.args);
  let options: LoadOptions;
  try {
    options = parseLoadArgs(load);
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : error}\n${ownUsage}`);
    Deno.exit(2);
  }
  const workDir = await Deno.makeTempDir({ prefix: "cmqd-bench-" });
  const started: Started[] = [];
  const emit = (result: LoadResult) => {
    const line = JSON.stringify(result);
    console.log(line);
    if (own.out !== "") Deno.writeTextFileSync(own.out, line + "\n", { append: true });
  };
  try {
    let noopResults: LoadResult[] = [];
    let brokerResults: LoadResult[] = [];
    if (!own.skipNoop) {
      const noop = await startNoop(workDir);
      started.push(noop);
      noopResults = await runAgainst(noop, { ...options, system: "noop" }, emit);
      await noop.stop();
    }
    if (!own.skipBroker) {
      const broker = own.url !== ""
        ? { url: own.url, stop: () => Promise.resolve() }
        : await startBroker(workDir, own.brokerArgs, own.program);
      started.push(broker);
      if (!own.doorsOnly) brokerResults = await runAgainst(broker, options, emit);
      if (own.doors) {
        const pid = options.pid || broker.child?.pid || 0;
        const rows = await runDoorComparison(options, { url: broker.url, pid }, emit);
        console.error(doorTable(options, rows));
      }
      await broker.stop();
    }
    if (noopResults.length + brokerResults.length > 0) {
      console.error(ratioTable(noopResults, brokerResults));
    }
  } finally {
    for (const server of started) await server.stop().catch(() => {});
    if (!own.keepData) await Deno.remove(workDir, { recursive: true }).catch(() => {});
    else console.error(`kept ${workDir}`);
  }
}

if (import.meta.main) await main();
