/**
 * Spreads producers and consumers over Deno Workers (or runs them in this isolate) and gives the
 * shapes one handle on the whole group: live counters, a stop for each side, and the latency
 * samples at the end. Producers and consumers go to separate threads, as in the anchors' harness:
 * a saturated producer event loop starves a consumer in the same isolate.
 *
 * @module
 */

import {
  control,
  LatencySamples,
  LoadRunner,
  type RunnerPlan,
  SharedCounters,
} from "./load_runner.ts";
import type { WorkerStart } from "./load_worker.ts";

/** What a group runs: the plan of every runner without its assignment. */
export type GroupPlan = Omit<RunnerPlan, "producers" | "consumers">;

/** Options of `startGroup`. */
export interface GroupOptions {
  producers: number;
  consumers: number;
  /** Workers to spread the clients over; 0 runs everything in this isolate. */
  threads: number;
}

/** A running group of producers and consumers. */
export interface LoadGroup {
  readonly counters: SharedCounters;
  /** Threads actually used (1 when everything runs in this isolate). */
  readonly threads: number;
  /** Resolves when every producer stopped (budget used up or told to stop). */
  readonly producersDone: Promise<void>;
  setLatencyRecording(on: boolean): void;
  stopProducers(): Promise<void>;
  /** Stops the consumers (after the producers) and returns every latency sample. */
  stopConsumers(): Promise<LatencySamples>;
}

function spread(count: number, parts: number, part: number): number[] {
  const indices: number[] = [];
  for (let index = part; index < count; index += parts) indices.push(index);
  return indices;
}

/** Splits the clients over `threads` runners: producers on the first ones, consumers on the rest. */
export function assign(
  options: GroupOptions,
): { producers: number[]; consumers: number[] }[] {
  const { producers, consumers } = options;
  const threads = Math.max(1, Math.min(options.threads, producers + consumers));
  if (threads === 1) {
    return [{ producers: spread(producers, 1, 0), consumers: spread(consumers, 1, 0) }];
  }
  const producerThreads = producers === 0
    ? 0
    : consumers === 0
    ? threads
    : Math.max(1, Math.floor(threads / 2));
  const consumerThreads = threads - producerThreads;
  return Array.from({ length: threads }, (_, thread) => ({
    producers: thread < producerThreads ? spread(producers, producerThreads, thread) : [],
    consumers: thread >= producerThreads
      ? spread(consumers, consumerThreads, thread - producerThreads)
      : [],
  }));
}

function budgetShare(plan: GroupPlan, assignments: { producers: number[] }[], slot: number) {
  if (plan.budget === 0) return 0;
  const total = assignments.reduce((sum, next) => sum + next.producers.length, 0);
  const before = assignments.slice(0, slot).reduce((sum, next) => sum + next.producers.length, 0);
  const mine = assignments[slot].producers.length;
  // Whole messages per producer, the remainder to the first producers.
  const share = (index: number) =>
    Math.floor(plan.budget / total) + (index < plan.budget % total ? 1 : 0);
  let budget = 0;
  for (let index = before; index < before + mine; index++) budget += share(index);
  return budget;
}

function rateShare(plan: GroupPlan, assignments: { producers: number[] }[], slot: number) {
  const total = assignments.reduce((sum, next) => sum + next.producers.length, 0);
  return total === 0 ? 0 : (plan.ratePerSecond * assignments[slot].producers.length) / total;
}

/**
 * Starts a group; it runs until its producers and consumers are stopped.
 *
 * @example
 * ```ts
 * const group = await startGroup(plan, { producers: 1, consumers: 1, threads: 2 });
 * await new Promise((resolve) => setTimeout(resolve, 1000));
 * await group.stopProducers();
 * const samples = await group.stopConsumers();
 * ```
 */
export async function startGroup(plan: GroupPlan, options: GroupOptions): Promise<LoadGroup> {
  const assignments = assign(options);
  const counters = new SharedCounters(assignments.length);
  const plans: RunnerPlan[] = assignments.map((assignment, slot) => ({
    ...plan,
    ...assignment,
    budget: budgetShare(plan, assignments, slot),
    ratePerSecond: rateShare(plan, assignments, slot),
  }));
  const runs = options.threads === 0
    ? [await startLocal(plans[0], counters)]
    : await Promise.all(plans.map((runnerPlan, slot) => startWorker(runnerPlan, counters, slot)));
  const producersDone = Promise.all(runs.map((run) => run.producersDone)).then(() => {});
  return {
    counters,
    threads: runs.length,
    producersDone,
    setLatencyRecording: (on) => counters.setFlag(control.latencyOn, on),
    async stopProducers() {
      counters.setFlag(control.stopProducers, true);
      await producersDone;
    },
    async stopConsumers() {
      counters.setFlag(control.stopProducers, true);
      counters.setFlag(control.stopConsumers, true);
      const all = new LatencySamples();
      for (const values of await Promise.all(runs.map((run) => run.done))) all.addAll(values);
      return all;
    },
  };
}

interface RunHandle {
  producersDone: Promise<void>;
  done: Promise<Float64Array>;
}

async function startLocal(plan: RunnerPlan, counters: SharedCounters): Promise<RunHandle> {
  const runner = new LoadRunner(plan, { shared: counters, slot: 0 });
  const { producersDone, consumersDone } = await runner.start();
  const done = Promise.all([producersDone, consumersDone]).then(() => {
    runner.close();
    return runner.samples.values.slice(0, runner.samples.count);
  });
  return { producersDone, done };
}

function startWorker(plan: RunnerPlan, counters: SharedCounters, slot: number): Promise<RunHandle> {
  const worker = new Worker(new URL("./load_worker.ts", import.meta.url), { type: "module" });
  let producersFinished!: () => void;
  let finished!: (samples: Float64Array) => void;
  const producersDone = new Promise<void>((resolve) => producersFinished = resolve);
  const done = new Promise<Float64Array>((resolve) => finished = resolve);
  return new Promise((resolve, reject) => {
    worker.onerror = (event) => {
      event.preventDefault();
      reject(new Error(`load worker failed: ${event.message}`));
    };
    worker.onmessage = (event) => {
      const message = event.data as { type: string; samples?: Float64Array };
      if (message.type === "started") resolve({ producersDone, done });
      else if (message.type === "producersDone") producersFinished();
      else if (message.type === "done") {
        worker.terminate();
        finished(message.samples ?? new Float64Array());
      }
    };
    const start: WorkerStart = { plan, buffer: counters.buffer, runners: counters.runners, slot };
    worker.postMessage(start);
  });
}
