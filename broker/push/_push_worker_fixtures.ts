/**
 * Test-only fixtures of the PushWorker tests: a memory engine with a topic and a worker whose
 * endpoint the test answers by hand, and helpers to subscribe and to let time pass.
 *
 * @module
 */

import { memoryEngine } from "../cluster/testing/mod.ts";
import type { PushSource } from "../service/mod.ts";
import type { PushLimits } from "./push_limits.ts";
import { type PushFetch, PushWorker } from "./push_worker.ts";

/** Lets the memory replica apply and the worker's promise chains run. */
export async function settle(): Promise<void> {
  for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setTimeout(resolve, 0));
}

export interface Call {
  url: string;
  headers: Record<string, string>;
  body: string;
  signal: AbortSignal;
  answer(status: number): void;
}

/** An endpoint the test answers by hand; every request waits until answered or aborted. */
export function manualEndpoint() {
  const calls: Call[] = [];
  let concurrent = 0;
  let concurrentMax = 0;
  const fetch: PushFetch = (url, init) =>
    new Promise((resolve, reject) => {
      concurrent++;
      concurrentMax = Math.max(concurrentMax, concurrent);
      const done = () => concurrent--;
      init.signal.addEventListener("abort", () => {
        done();
        reject(new Error("aborted"));
      });
      calls.push({
        url,
        headers: init.headers,
        body: init.body,
        signal: init.signal,
        answer: (status) => {
          done();
          resolve({ status, body: null });
        },
      });
    });
  return {
    calls,
    fetch,
    get concurrentMax() {
      return concurrentMax;
    },
  };
}

export async function setup(limits: Partial<PushLimits> = {}) {
  const engine = memoryEngine();
  const endpoint = manualEndpoint();
  const latencies: number[] = [];
  const worker = new PushWorker({
    source: engine.topics,
    fetch: endpoint.fetch,
    clock: engine.clock,
    timers: engine.clock,
    limits,
    onPushed: (ms) => latencies.push(ms),
    logError: () => {},
  });
  await engine.topics.createTopic("t", {});
  return { ...engine, endpoint, worker, latencies };
}

export async function hook(context: Awaited<ReturnType<typeof setup>>, name: string, extra = {}) {
  await context.topics.subscribe("t", name, {
    endpoint: { url: `http://${name}.test/` },
    ...extra,
  });
}

export async function tick(context: Awaited<ReturnType<typeof setup>>, ms = 0): Promise<void> {
  context.clock.advance(ms);
  await settle();
}

/** `source` with some of its calls replaced; the others go to it. */
export function sourceWith(source: PushSource, overrides: Partial<PushSource>): PushSource {
  return {
    barrier: () => source.barrier(),
    pushTargets: () => source.pushTargets(),
    nextPushAt: () => source.nextPushAt(),
    pushPending: (target, sequence, attempt) => source.pushPending(target, sequence, attempt),
    recordPushOutcomes: (outcomes) => source.recordPushOutcomes(outcomes),
    onPushPending: (listener) => source.onPushPending(listener),
    duePushes: (target, now, options) => source.duePushes(target, now, options),
    ...overrides,
  };
}
