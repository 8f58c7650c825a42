/**
 * The load shapes of bench/README.md (produce, consume, both, latency; backlog lives in `backlog.ts`),
 * each run on a fresh queue and reported as one result row.
 *
 * @module
 */

import { type BenchClient, createBenchClient } from "./bench_client.ts";
import { type GroupPlan, type LoadGroup, startGroup } from "./load_group.ts";
import { apiList, type LoadOptions, type Shape } from "./load_options.ts";
import type { LatencySamples } from "./load_runner.ts";
import { MachineMeter, type MachineUse, pidList } from "./machine_stats.ts";
import {
  CpuMeter,
  type DiskPerMessage,
  diskPerMessage,
  readBrokerDisk,
  resolvePid,
} from "./process_stats.ts";

/** One figure, as one JSON line (the benchmark row's fields first, then the extras). */
export interface LoadResult {
  system: string;
  config: string;
  replicas: number;
  shape: Shape;
  msgSize: number;
  producers: number;
  consumers: number;
  seconds: number;
  producedPerSec: number | null;
  consumedPerSec: number | null;
  p50ms: number | null;
  p99ms: number | null;
  batch: number;
  [extra: string]: unknown;
}

/** Rounds to `digits` decimals; null stays null. */
export function round(value: number | null | undefined, digits = 0): number | null {
  if (value === null || value === undefined || !Number.isFinite(value)) return null;
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A fresh queue for one shape run, deleted again by `dropQueue`. */
export async function freshQueue(client: BenchClient, options: LoadOptions, shape: Shape) {
  const name = `${options.queue}-${shape}-${Date.now().toString(36)}`;
  await client.createQueue(name, { visibilityTimeoutSeconds: options.visibilityTimeoutSeconds });
  return name;
}

/** Deletes a shape's queue; a failure here must not lose the figure already measured. */
export async function dropQueue(client: BenchClient, name: string): Promise<void> {
  try {
    await client.deleteQueue(name);
  } catch (error) {
    console.error(`load: could not delete queue ${name}: ${String(error)}`);
  }
}

/** The group plan of a shape on `queue`. */
export function groupPlan(options: LoadOptions, queue: string, shape: Shape): GroupPlan {
  const latency = shape === "latency";
  return {
    url: options.url,
    queue,
    clientKind: options.client,
    messageBytes: options.size,
    // The latency shape sends each message as soon as it is due, one per request.
    sendBatch: latency ? 1 : options.batch,
    receiveBatch: options.batch,
    producerInflight: options.inflight,
    consumerInflight: latency ? 1 : options.inflight,
    ratePerSecond: latency ? options.rate : 0,
    budget: 0,
    ackMode: options.ackMode,
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
    waitSeconds: options.waitSeconds,
    // One api per run (`runLoad` splits a list).
    api: apiList(options.api)[0],
  };
}

interface Window {
  seconds: number;
  produced: number;
  consumed: number;
  errors: number;
  requests: number;
  clientCpuPct: number | null;
  brokerCpuPct: number | null;
  machine: MachineUse;
  /** The broker's fdatasyncs and log entries per message (null unless cmqd's /metrics answers). */
  disk: DiskPerMessage;
}

/** Counts what the group did between the end of the warm-up and the end of the window. */
async function measure(
  group: LoadGroup,
  options: {
    url: string;
    warmupSeconds: number;
    seconds: number;
    pids: MeasuredPids;
    endEarly?: () => boolean;
  },
): Promise<Window> {
  const cpu = new CpuMeter(options.pids.broker);
  const machine = new MachineMeter(options.pids.nodes);
  await sleep(options.warmupSeconds * 1000);
  const snapshot = () => ({
    at: performance.now(),
    produced: group.counters.total("produced"),
    consumed: group.counters.total("consumed"),
    errors: group.counters.total("errors"),
    requests: group.counters.total("sendRequests") + group.counters.total("receiveRequests"),
  });
  const diskStart = await readBrokerDisk(options.url);
  const start = snapshot();
  cpu.start();
  machine.start();
  group.setLatencyRecording(true);
  const deadline = start.at + options.seconds * 1000;
  while (performance.now() < deadline) {
    await sleep(Math.min(20, Math.max(1, deadline - performance.now())));
    if (options.endEarly?.()) break;
  }
  const end = snapshot();
  group.setLatencyRecording(false);
  const cpuUse = cpu.stop();
  const machineUse = machine.stop();
  const diskEnd = await readBrokerDisk(options.url);
  const seconds = (end.at - start.at) / 1000;
  const produced = end.produced - start.produced;
  const consumed = end.consumed - start.consumed;
  return {
    seconds,
    produced,
    consumed,
    errors: end.errors - start.errors,
    requests: end.requests - start.requests,
    ...cpuUse,
    machine: machineUse,
    disk: diskPerMessage(diskStart, diskEnd, produced > 0 ? produced : consumed),
  };
}

interface RowInput {
  shape: Shape;
  producers: number;
  consumers: number;
  window: Window;
  samples: LatencySamples | null;
  group: LoadGroup;
  lanes: number;
  extra?: Record<string, unknown>;
}

/** Builds the JSON row of one figure. */
export function resultRow(options: LoadOptions, input: RowInput): LoadResult {
  const { shape, window, samples } = input;
  const perSecond = (count: number) => round(count / window.seconds);
  return {
    system: options.system,
    config: options.config ||
      (apiList(options.api)[0] === "helpers" ? "sdk-helpers" : `${options.client}-client`),
    replicas: options.replicas,
    shape,
    msgSize: options.size,
    producers: input.producers,
    consumers: input.consumers,
    seconds: round(window.seconds, 2) ?? 0,
    producedPerSec: input.producers > 0 ? perSecond(window.produced) : null,
    consumedPerSec: input.consumers > 0 ? perSecond(window.consumed) : null,
    p50ms: samples ? round(samples.percentile(50), 2) : null,
    p99ms: samples ? round(samples.percentile(99), 2) : null,
    batch: shape === "latency" ? 1 : options.batch,
    p999ms: samples ? round(samples.percentile(99.9), 2) : null,
    maxms: samples ? round(samples.percentile(100), 2) : null,
    latencySamples: samples?.count ?? null,
    errors: window.errors,
    requestsPerSec: perSecond(window.requests),
    ackMode: input.consumers > 0 ? options.ackMode : null,
    client: options.client,
    api: apiList(options.api)[0],
    threads: input.group.threads,
    inflight: options.inflight,
    connections: input.lanes,
    clientCpuPct: window.clientCpuPct,
    brokerCpuPct: window.brokerCpuPct,
    ...window.machine,
    ...window.disk,
    ...input.extra,
    at: new Date().toISOString(),
  };
}

/** TCP connections a group opens: HTTP/1.1 keep-alive uses one per request in flight. */
function lanes(plan: GroupPlan, producers: number, consumers: number): number {
  const producerLanes = plan.ratePerSecond > 0
    ? Math.max(plan.producerInflight, Math.ceil(plan.ratePerSecond / plan.sendBatch / 50))
    : plan.producerInflight;
  return producers * producerLanes + consumers * plan.consumerInflight;
}

async function depthOf(client: BenchClient, queue: string): Promise<number | null> {
  try {
    const described = await client.getQueue(queue);
    return described.activeMessages + described.inflightMessages + described.delayedMessages;
  } catch {
    return null;
  }
}

/**
 * Fills `queue` with `count` messages through `producers` producers; returns the fill rate.
 * Throws once the broker accepted no message for `--ready-timeout-seconds` (a broker killed
 * during the prefill): the failed sends would otherwise be retried for ever.
 */
export async function prefill(
  options: LoadOptions,
  plan: GroupPlan,
  count: number,
): Promise<{ messages: number; seconds: number; errors: number }> {
  // A budget of 0 is "no limit" to the producers: nothing to fill is no fill at all.
  if (count <= 0) return { messages: 0, seconds: 0, errors: 0 };
  const startMs = performance.now();
  const producers = Math.max(1, options.producers);
  const group = await startGroup({ ...plan, budget: count }, {
    producers,
    consumers: 0,
    threads: options.threads,
  });
  const stalled = await untilDoneOrStalled(group, options.readyTimeoutSeconds * 1000);
  await group.stopConsumers();
  const messages = group.counters.total("produced");
  const errors = group.counters.total("errors");
  if (stalled) {
    throw new Error(
      `prefill: ${plan.url} accepted no message for ${options.readyTimeoutSeconds} s ` +
        `(--ready-timeout-seconds); ${messages} of ${count} sent, ${errors} failed requests: ` +
        "is the broker up?",
    );
  }
  return { messages, seconds: (performance.now() - startMs) / 1000, errors };
}

/**
 * Waits until `group`'s producers are done (false) or its produced count has not moved for
 * `stallMs` (true).
 */
async function untilDoneOrStalled(group: LoadGroup, stallMs: number): Promise<boolean> {
  let done = false;
  void group.producersDone.then(() => done = true);
  let produced = group.counters.total("produced");
  let movedAt = performance.now();
  while (!done) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.min(100, stallMs));
      void group.producersDone.then(() => resolve());
    });
    clearTimeout(timer);
    const now = group.counters.total("produced");
    if (now !== produced) {
      produced = now;
      movedAt = performance.now();
    } else if (!done && performance.now() - movedAt >= stallMs) return true;
  }
  return false;
}

/** The broker's PID (`--pid`, for `brokerCpuPct`) and a cluster's node PIDs (`--node-pids`). */
interface MeasuredPids {
  broker: number;
  nodes: number[];
}

async function runProduce(options: LoadOptions, plan: GroupPlan, pids: MeasuredPids) {
  const producers = options.producers;
  const group = await startGroup(plan, { producers, consumers: 0, threads: options.threads });
  const window = await measure(group, {
    url: plan.url,
    warmupSeconds: options.warmup,
    seconds: options.seconds,
    pids,
  });
  await group.stopProducers();
  await group.stopConsumers();
  const connections = lanes(plan, producers, 0);
  return { producers, consumers: 0, window, samples: null, group, lanes: connections };
}

async function runConsume(
  options: LoadOptions,
  plan: GroupPlan,
  context: { client: BenchClient; pids: MeasuredPids },
) {
  const filled = await prefill(options, plan, options.prefill);
  const prefilled = (await depthOf(context.client, plan.queue)) ?? filled.messages;
  const consumers = options.consumers;
  const group = await startGroup(plan, { producers: 0, consumers, threads: options.threads });
  // Consume-only is a drain: measured from consumer start until empty or the window ends.
  const window = await measure(group, {
    url: plan.url,
    warmupSeconds: 0,
    seconds: options.seconds,
    pids: context.pids,
    endEarly: () => group.counters.total("consumed") >= prefilled,
  });
  const drainedEarly = group.counters.total("consumed") >= prefilled;
  await group.stopConsumers();
  const extra = {
    prefilled,
    prefillPerSec: round(filled.messages / filled.seconds),
    drainedEarly,
  };
  return {
    producers: 0,
    consumers,
    window,
    samples: null,
    group,
    lanes: lanes(plan, 0, consumers),
    extra,
  };
}

async function runBoth(
  options: LoadOptions,
  plan: GroupPlan,
  context: { client: BenchClient; pids: MeasuredPids; latency: boolean },
) {
  const producers = context.latency ? 1 : options.producers;
  const consumers = context.latency ? 1 : options.consumers;
  const threads = context.latency ? 0 : options.threads;
  const group = await startGroup(plan, { producers, consumers, threads });
  const window = await measure(group, {
    url: plan.url,
    warmupSeconds: options.warmup,
    seconds: options.seconds,
    pids: context.pids,
  });
  await group.stopProducers();
  const backlogAfter = await depthOf(context.client, plan.queue);
  const samples = await group.stopConsumers();
  const extra = context.latency ? { rate: options.rate, backlogAfter } : { backlogAfter };
  return {
    producers,
    consumers,
    window,
    samples,
    group,
    lanes: lanes(plan, producers, consumers),
    extra,
  };
}

/**
 * Runs one of produce, consume, both, latency on a fresh queue and returns its row.
 *
 * @example
 * ```ts
 * const row = await runShape(parseLoadArgs(["--url", url, "--seconds", "5"]), "produce");
 * console.log(JSON.stringify(row));
 * ```
 */
export async function runShape(options: LoadOptions, shape: Shape): Promise<LoadResult> {
  if (shape === "backlog") throw new Error("the backlog shape runs through runBacklog");
  const client = await createBenchClient(options.url, options.client);
  const pids = { broker: resolvePid(options), nodes: pidList(options.nodePids) };
  try {
    const queue = await freshQueue(client, options, shape);
    const plan = groupPlan(options, queue, shape);
    try {
      const measured = shape === "produce"
        ? await runProduce(options, plan, pids)
        : shape === "consume"
        ? await runConsume(options, plan, { client, pids })
        : await runBoth(options, plan, { client, pids, latency: shape === "latency" });
      return resultRow(options, { shape, ...measured });
    } finally {
      await dropQueue(client, queue);
    }
  } finally {
    client.close();
  }
}
