/**
 * The backlog shape: fill a queue with N messages, report the broker's RSS per backlog message,
 * and optionally restart the broker and time it until `/readyz` answers 200.
 *
 * @module
 */

import { createBenchClient } from "./bench_client.ts";
import type { LoadOptions } from "./load_options.ts";
import {
  dropQueue,
  freshQueue,
  groupPlan,
  type LoadResult,
  prefill,
  round,
} from "./load_shapes.ts";
import { readRssBytes, resolvePid, waitReady } from "./process_stats.ts";

/** Restarts the broker; resolves once the new process was launched, with its PID if known. */
export type RestartBroker = () => Promise<{ pid: number }>;

/** A `RestartBroker` that runs `--restart-cmd` through `sh -c` and re-reads `--pid-file`. */
export function restartByCommand(options: LoadOptions): RestartBroker {
  return async () => {
    const status = await new Deno.Command("sh", { args: ["-c", options.restartCmd] }).spawn()
      .status;
    if (!status.success) throw new Error(`restart command failed with code ${status.code}`);
    return { pid: resolvePid({ pid: 0, pidFile: options.pidFile }) };
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function restartAndTime(options: LoadOptions, restart: RestartBroker, queue: string) {
  const startMs = performance.now();
  const { pid } = await restart();
  const readyMs = await waitReady(options.url, options.readyTimeoutSeconds * 1000);
  const restartToReadyMs = readyMs === null ? null : performance.now() - startMs;
  await sleep(options.settleSeconds * 1000);
  const client = await createBenchClient(options.url, options.client);
  try {
    const described = await client.getQueue(queue);
    return {
      restartToReadyMs: round(restartToReadyMs, 1),
      backlogAfterRestart: described.activeMessages + described.inflightMessages,
      rssAfterRestartBytes: await readRssBytes({ url: options.url, pid }),
    };
  } finally {
    client.close();
  }
}

/**
 * Runs the backlog shape. `restart` defaults to `--restart-cmd` when it is set.
 *
 * @example
 * ```ts
 * const row = await runBacklog(parseLoadArgs(["--url", url, "--backlog-messages", "100000"]));
 * ```
 */
export async function runBacklog(
  options: LoadOptions,
  restart?: RestartBroker,
): Promise<LoadResult> {
  const restartBroker = restart ??
    (options.restartCmd === "" ? undefined : restartByCommand(options));
  const client = await createBenchClient(options.url, options.client);
  const pid = resolvePid(options);
  const queue = await freshQueue(client, options, "backlog");
  try {
    await sleep(options.settleSeconds * 1000);
    const rssBeforeBytes = await readRssBytes({ url: options.url, pid });
    const filled = await prefill(
      options,
      groupPlan(options, queue, "backlog"),
      options.backlogMessages,
    );
    await sleep(options.settleSeconds * 1000);
    const rssAfterFillBytes = await readRssBytes({ url: options.url, pid });
    const described = await client.getQueue(queue);
    const backlog = described.activeMessages + described.inflightMessages;
    const perMessage = (after: number | null) =>
      after === null || rssBeforeBytes === null || backlog === 0
        ? null
        : round((after - rssBeforeBytes) / backlog, 1);
    const restarted = restartBroker ? await restartAndTime(options, restartBroker, queue) : null;
    return {
      system: options.system,
      config: options.config || `${options.client}-client`,
      replicas: options.replicas,
      shape: "backlog",
      msgSize: options.size,
      producers: Math.max(1, options.producers),
      consumers: 0,
      seconds: round(filled.seconds, 2) ?? 0,
      producedPerSec: round(filled.messages / filled.seconds),
      consumedPerSec: null,
      p50ms: null,
      p99ms: null,
      batch: options.batch,
      backlog,
      errors: filled.errors,
      rssBeforeBytes,
      rssAfterFillBytes,
      rssBytesPerMessage: perMessage(rssAfterFillBytes),
      ...restarted,
      rssBytesPerMessageAfterRestart: restarted ? perMessage(restarted.rssAfterRestartBytes) : null,
      rssSource: pid > 0 ? "/proc/PID/status" : "/metrics",
      client: options.client,
      at: new Date().toISOString(),
    };
  } finally {
    await dropQueue(client, queue);
    client.close();
  }
}
