/**
 * The client side of the load generator in one isolate, runnable under Deno **and** Node (it
 * uses only the SDK, `node:process` and web globals): the "both" shape — producers and
 * consumers at once on a fresh queue — through the same `LoadRunner` lanes as `load.ts`, with
 * `--api raw` or `--api helpers`. `runtimes.ts` bundles it with `deno bundle` and runs it under
 * both runtimes to compare the SDK's client throughput in Node (node:http transport) and Deno
 * (fetch). `runtime_load_main.ts` is the entry (Node 20 has no `import.meta.main`); it prints
 * one JSON line.
 *
 * ```sh
 * deno run -A bench/runtime_load_main.ts --url http://127.0.0.1:9876 --api helpers --seconds 3
 * ```
 *
 * @module
 */
import process from "node:process";
import { CmqdClient } from "../sdk/mod.ts";
import { control, LoadRunner, type RunnerPlan, SharedCounters } from "./load_runner.ts";

/** Options of one runtime run (flags of the same names). */
export interface RuntimeLoadOptions {
  url: string;
  api: "raw" | "helpers";
  seconds: number;
  warmup: number;
  producers: number;
  consumers: number;
  batch: number;
  inflight: number;
  size: number;
}

const defaults: RuntimeLoadOptions = {
  url: "http://127.0.0.1:9876",
  api: "raw",
  seconds: 3,
  warmup: 1,
  producers: 2,
  consumers: 2,
  batch: 16,
  inflight: 4,
  size: 1024,
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `--name value` pairs over the defaults; an unknown flag is an error. */
export function parseRuntimeArgs(args: readonly string[]): RuntimeLoadOptions {
  const options: Record<string, unknown> = { ...defaults };
  for (let index = 0; index < args.length; index += 2) {
    const key = args[index].replace(/^--/, "");
    const value = args[index + 1];
    if (!(key in defaults) || value === undefined) throw new Error(`bad flag ${args[index]}`);
    options[key] = typeof (defaults as unknown as Record<string, unknown>)[key] === "number"
      ? Number(value)
      : value;
  }
  if (options.api !== "raw" && options.api !== "helpers") throw new Error("--api raw|helpers");
  return options as unknown as RuntimeLoadOptions;
}

/** Runs producers and consumers for warm-up + seconds; answers the measured row. */
export async function runRuntimeLoad(
  options: RuntimeLoadOptions,
): Promise<Record<string, unknown>> {
  const admin = new CmqdClient({ baseUrl: options.url });
  const queue = `runtime-${options.api}-${Date.now().toString(36)}`;
  await admin.createQueue(queue, { visibilityTimeoutSeconds: 60 });
  const plan: RunnerPlan = {
    url: options.url,
    queue,
    clientKind: "sdk",
    producers: Array.from({ length: options.producers }, (_, index) => index),
    consumers: Array.from({ length: options.consumers }, (_, index) => index),
    sendBatch: options.batch,
    receiveBatch: options.batch,
    messageBytes: options.size,
    producerInflight: options.inflight,
    consumerInflight: options.inflight,
    ratePerSecond: 0,
    budget: 0,
    ackMode: "piggyback",
    visibilityTimeoutSeconds: 60,
    waitSeconds: 1,
    api: options.api,
  };
  const counters = new SharedCounters(1);
  const runner = new LoadRunner(plan, { shared: counters, slot: 0 });
  const { producersDone, consumersDone } = await runner.start();
  await sleep(options.warmup * 1000);
  const start = {
    at: performance.now(),
    produced: counters.total("produced"),
    consumed: counters.total("consumed"),
  };
  await sleep(options.seconds * 1000);
  const seconds = (performance.now() - start.at) / 1000;
  const produced = counters.total("produced") - start.produced;
  const consumed = counters.total("consumed") - start.consumed;
  counters.setFlag(control.stopProducers, true);
  await producersDone;
  counters.setFlag(control.stopConsumers, true);
  await consumersDone;
  runner.close();
  await admin.deleteQueue(queue).catch(() => {});
  admin.close();
  const runtime = (globalThis as { Deno?: unknown }).Deno === undefined ? "node" : "deno";
  return {
    runtime,
    version: runtime === "node" ? process.version : process.versions.deno,
    api: options.api,
    producers: options.producers,
    consumers: options.consumers,
    batch: options.batch,
    inflight: options.inflight,
    msgSize: options.size,
    seconds: Math.round(seconds * 100) / 100,
    producedPerSec: Math.round(produced / seconds),
    consumedPerSec: Math.round(consumed / seconds),
    errors: counters.total("errors"),
  };
}
