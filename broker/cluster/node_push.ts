/**
 * A node's push worker and where its pushes may connect, as `startNode` builds them.
 *
 * @module
 */
import type { EngineTopicService } from "../service/mod.ts";
import type { Metrics } from "../http/mod.ts";
import { parseNetworks, PushDestinations, type PushFetch, PushWorker } from "../push/mod.ts";
import type { NodeOptions } from "./node.ts";

/**
 * Where pushes may connect: never this node's API listener (`url`'s port on `listenHost`), nor a
 * member's client URL, nor `pushDenyNetworks`.
 */
export function pushDestinations(
  options: NodeOptions,
  memberUrls: () => string[],
): PushDestinations {
  const url = new URL(options.url);
  const port = url.port !== "" ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
  return new PushDestinations({
    deny: parseNetworks((options.pushDenyNetworks ?? []).join(",")),
    listener: { host: options.listenHost ?? url.hostname.replace(/^\[(.*)\]$/, "$1"), port },
    memberUrls,
  });
}

/** Bounds of the publish-to-push latency histogram, in seconds (10 ms to a day). */
const pushLatencyBucketsSeconds = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60, 600, 3600, 86400];

/** The push worker of a node, which counts its publish-to-push latency into `parts.metrics`. */
export function createPushWorker(
  options: NodeOptions,
  parts: {
    topics: EngineTopicService;
    metrics: Metrics;
    fetch: PushFetch;
    clock: { now(): number };
  },
): PushWorker {
  const { topics, metrics } = parts;
  const latency = metrics.histogram(
    "cmqd_push_latency_seconds",
    "From publish to the 2xx of its push (retries included), on this node while it led.",
    pushLatencyBucketsSeconds,
  );
  return new PushWorker({
    source: topics,
    fetch: options.pushFetch ?? parts.fetch,
    // Next-attempt times are stamped in cluster time, so the worker reads the same clock.
    clock: parts.clock,
    timers: options.timers,
    limits: options.pushLimits,
    onPushed: (latencyMs) => latency.observe(latencyMs / 1000),
  });
}
