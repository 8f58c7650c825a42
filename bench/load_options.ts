/**
 * Options of the load generator and their command-line form (`--producers 4`, `--ack-mode=separate`).
 *
 * @module
 */

import { type ClientKind, clientKinds } from "./bench_client.ts";
import type { AckMode, LoadApi } from "./load_runner.ts";
import { pidList } from "./machine_stats.ts";

/** The load shapes (bench/README.md). */
export const shapes = ["produce", "consume", "both", "latency", "backlog"] as const;
/** A load shape. */
export type Shape = typeof shapes[number];

/** Everything a load run can be told. */
export interface LoadOptions {
  /** Base URL of the broker (or no-op server). */
  url: string;
  /** Comma list of shapes, or `all` (every shape but backlog, which is long). */
  shape: string;
  seconds: number;
  warmup: number;
  size: number;
  producers: number;
  consumers: number;
  batch: number;
  /** Requests in flight per producer and per consumer. */
  inflight: number;
  /** Workers for the clients; 0 keeps them in this isolate. */
  threads: number;
  prefill: number;
  rate: number;
  ackMode: AckMode;
  client: ClientKind;
  /**
   * `raw` (batch loops on the client), `helpers` (the SDK's Producer and Consumer), or a comma
   * list: each shape then runs once per api, side by side in one run.
   */
  api: string;
  waitSeconds: number;
  visibilityTimeoutSeconds: number;
  repeat: number;
  /** Labels of the result rows. */
  system: string;
  config: string;
  replicas: number;
  /** Queue name prefix; each shape uses its own fresh queue. */
  queue: string;
  backlogMessages: number;
  /** EngineService PID (or a file holding it) for CPU and RSS from /proc. */
  pid: number;
  pidFile: string;
  /**
   * A cluster's node PIDs, comma-separated: each one's CPU is reported (`nodeCpuPct`, in this
   * order) beside the machine's and the disks' (`machineBusyPct`, `diskBusyPct`, `diskWriteMBps`).
   */
  nodePids: string;
  /** Shell command that restarts the broker, for the backlog shape's restart-to-ready time. */
  restartCmd: string;
  /**
   * Bound on waiting for /readyz after a restart, and on a prefill that gets no message accepted
   * (a broker gone): the run then ends with an error.
   */
  readyTimeoutSeconds: number;
  /** Pause before each RSS reading of the backlog shape, so the broker settles. */
  settleSeconds: number;
}

/** Defaults of every option. */
export const defaultLoadOptions: LoadOptions = {
  url: "http://127.0.0.1:8080",
  shape: "all",
  seconds: 10,
  warmup: 2,
  size: 1024,
  producers: 1,
  consumers: 1,
  batch: 16,
  inflight: 4,
  threads: 2,
  prefill: 300_000,
  rate: 1000,
  ackMode: "piggyback",
  client: "sdk",
  api: "raw",
  waitSeconds: 1,
  visibilityTimeoutSeconds: 60,
  repeat: 1,
  system: "cmqd",
  config: "",
  replicas: 1,
  queue: "bench",
  backlogMessages: 1_000_000,
  pid: 0,
  pidFile: "",
  nodePids: "",
  restartCmd: "",
  readyTimeoutSeconds: 120,
  settleSeconds: 2,
};

const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, letter) => letter.toUpperCase());

/**
 * Parses `--name value`, `--name=value` and bare `--flag` (true) over the defaults. Unknown flags
 * are an error so that a typo never silently runs the wrong load.
 *
 * @example
 * ```ts
 * const options = parseLoadArgs(["--shape", "produce", "--producers=4"]);
 * ```
 */
export function parseLoadArgs(
  args: string[],
  defaults: LoadOptions = defaultLoadOptions,
): LoadOptions {
  const options: Record<string, unknown> = { ...defaults };
  for (let index = 0; index < args.length; index++) {
    const arg = args[index];
    if (!arg.startsWith("--")) throw new Error(`unexpected argument '${arg}'`);
    const equals = arg.indexOf("=");
    const key = camel(arg.slice(2, equals < 0 ? undefined : equals));
    let value = equals < 0 ? undefined : arg.slice(equals + 1);
    if (value === undefined) {
      const next = args[index + 1];
      if (next !== undefined && !next.startsWith("--")) {
        value = next;
        index++;
      } else value = "true";
    }
    if (!(key in defaults)) throw new Error(`unknown option --${arg.slice(2)}`);
    const current = (defaults as unknown as Record<string, unknown>)[key];
    if (typeof current === "number") {
      const number = Number(value);
      if (!Number.isFinite(number)) throw new Error(`--${key} needs a number, got '${value}'`);
      options[key] = number;
    } else options[key] = value;
  }
  return validate(options as unknown as LoadOptions);
}

function validate(options: LoadOptions): LoadOptions {
  if (!["piggyback", "piggyback-wait", "separate"].includes(options.ackMode)) {
    throw new Error("--ack-mode is piggyback, piggyback-wait or separate");
  }
  if (!clientKinds.includes(options.client)) {
    throw new Error(`--client is one of ${clientKinds.join(", ")}`);
  }
  apiList(options.api);
  if (options.batch < 1 || options.batch > 256) throw new Error("--batch is 1..256");
  if (options.inflight < 1) throw new Error("--inflight is at least 1");
  if (options.size < 32) throw new Error("--size is at least 32 bytes (the send stamp)");
  shapeList(options.shape);
  pidList(options.nodePids);
  return options;
}

/** The shapes a `--shape` value names. */
export function shapeList(shape: string): Shape[] {
  if (shape === "all") return ["produce", "consume", "both", "latency"];
  const list = shape.split(",").map((name) => name.trim()).filter((name) => name !== "");
  for (const name of list) {
    if (!(shapes as readonly string[]).includes(name)) throw new Error(`unknown shape '${name}'`);
  }
  return list as Shape[];
}

/** The apis an `--api` value names. */
export function apiList(api: string): LoadApi[] {
  const list = api.split(",").map((name) => name.trim()).filter((name) => name !== "");
  if (list.length === 0) throw new Error("--api names raw, helpers or both");
  for (const name of list) {
    if (name !== "raw" && name !== "helpers") throw new Error(`unknown api '${name}'`);
  }
  return list as LoadApi[];
}
