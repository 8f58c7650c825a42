/**
 * Worker entry of the load generator: runs one `LoadRunner` on the plan it is posted, reports
 * `started`, `producersDone`, then `done` with its latency samples once the consumers stopped.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { LoadRunner, type RunnerPlan, SharedCounters } from "./load_runner.ts";

/** What the main thread posts to start a worker. */
export interface WorkerStart {
  plan: RunnerPlan;
  buffer: SharedArrayBuffer;
  runners: number;
  slot: number;
}

self.onmessage = async (event: MessageEvent<WorkerStart>) => {
  const { plan, buffer, runners, slot } = event.data;
  const runner = new LoadRunner(plan, { shared: new SharedCounters(runners, buffer), slot });
  const { producersDone, consumersDone } = await runner.start();
  self.postMessage({ type: "started" });
  await producersDone;
  self.postMessage({ type: "producersDone" });
  await consumersDone;
  runner.close();
  const samples = runner.samples.values.slice(0, runner.samples.count);
  self.postMessage({ type: "done", samples }, [samples.buffer]);
};
