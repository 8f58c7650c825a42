/**
 * The topic lines of `/metrics` (Prometheus text): published and fanned-out messages, push
 * outcomes, and per URL subscription the push backlog and the age of its oldest pending push;
 * of the first 1,000 topics by name and, over them, the first 1,000 subscriptions (or as many of
 * each as `--metrics-topic-series` says).
 * `cmqd_topics` and `cmqd_subscriptions` count them all, so a cut list shows beside them.
 * The counters are replicated engine state, so every node reports the same values for the
 * same applied index (and they survive restarts); only the in-flight gauge is this node's.
 *
 * @module
 */
import type { TopicQueries } from "../engine/mod.ts";
import type { Subscription } from "../../sdk/protocol.ts";
import type { PushWorkerStats } from "../push/mod.ts";

/**
 * Topics listed per scrape by default (`--metrics-topic-series`), and subscriptions over all of
 * them (topic, then subscription name order); past them the series are cut (bounded scrape cost:
 * a topic holds up to 100 subscriptions, and 1,000 topics of 100 took seconds of the event loop
 * per scrape).
 */
export const metricsTopicSeriesDefault = 1000;

interface Family {
  name: string;
  help: string;
  type: "counter" | "gauge";
  samples: string[];
}

/**
 * Renders the topic metrics.
 *
 * @example
 * ```ts
 * const text = topicMetricsText(machine.topics, push.stats(), Date.now());
 * ```
 *
 * The per-topic series list the first `seriesMax` topics by name, and the per-subscription ones
 * the first `seriesMax` subscriptions of those (0: none); the others are left out, not summed
 * into a made-up label value (see `nodeMetricsText` on the queues).
 */
export function topicMetricsText(
  topics: TopicQueries,
  push: PushWorkerStats,
  now: number,
  seriesMax: number = metricsTopicSeriesDefault,
): string {
  const family = (name: string, help: string, type: Family["type"]): Family => ({
    name,
    help,
    type,
    samples: [],
  });
  const listed = seriesMax === 0 ? "none" : `the first ${seriesMax} by name`;
  const published = family(
    "cmqd_topic_published_messages_total",
    `Messages published to a topic (the topics listed: ${listed}; --metrics-topic-series).`,
    "counter",
  );
  const perSubscription = {
    fannedOut: family(
      "cmqd_topic_fanned_out_messages_total",
      "Messages a subscription took (queue copies enqueued, pushes scheduled; the " +
        `subscriptions listed: ${listed}, topic then name; --metrics-topic-series).`,
      "counter",
    ),
    failed: family(
      "cmqd_topic_failed_messages_total",
      "Messages a subscription's endpoint never got (copies refused, pushes given up on).",
      "counter",
    ),
    pushed: family("cmqd_push_pushed_total", "Pushes answered with a 2xx.", "counter"),
    failures: family("cmqd_push_failures_total", "Push attempts that failed.", "counter"),
    retries: family("cmqd_push_retries_total", "Failed pushes scheduled again.", "counter"),
    dropped: family(
      "cmqd_push_dropped_total",
      "Pushes given up on: reason=retries (policy spent) or retention (too old).",
      "counter",
    ),
    pending: family("cmqd_push_pending_messages", "Messages waiting to be pushed.", "gauge"),
    oldest: family(
      "cmqd_push_oldest_pending_age_seconds",
      "Age of the oldest message waiting to be pushed (0 when none).",
      "gauge",
    ),
  };
  const list = seriesMax === 0 ? [] : topics.listTopics({ limit: seriesMax }).topics;
  let subscriptionsLeft = seriesMax;
  for (const topic of list) {
    published.samples.push(`{topic="${topic.name}"} ${topic.publishedMessages}`);
    if (subscriptionsLeft === 0) continue;
    const subscriptions = topics.listSubscriptions(topic.name, { limit: subscriptionsLeft });
    for (const subscription of subscriptions?.subscriptions ?? []) {
      addSubscription(perSubscription, subscription, now);
      subscriptionsLeft--;
    }
  }
  const topicCount = family(
    "cmqd_topics",
    `Topics in the cluster, as applied here (the per-topic series list ${listed}; ` +
      "--metrics-topic-series).",
    "gauge",
  );
  topicCount.samples.push(` ${topics.topicCount}`);
  const subscriptionCount = family(
    "cmqd_subscriptions",
    "Subscriptions of all topics, as applied here (the per-subscription series list " +
      `${seriesMax === 0 ? "none" : `the first ${seriesMax}`} of the listed topics, topic then ` +
      "name; --metrics-topic-series).",
    "gauge",
  );
  subscriptionCount.samples.push(` ${topics.subscriptionCount}`);
  const inflight = family(
    "cmqd_push_inflight_requests",
    "Push requests in flight on this node (0 unless it leads).",
    "gauge",
  );
  inflight.samples.push(` ${push.inflight}`);
  const unreadable = family(
    "cmqd_push_unreadable_messages",
    "Pending pushes this node leaves out because their message can't be read back (0 unless " +
      "it leads; each is logged once).",
    "gauge",
  );
  unreadable.samples.push(` ${push.unreadable}`);
  const lines: string[] = [];
  const all = [
    topicCount,
    subscriptionCount,
    published,
    ...Object.values(perSubscription),
    inflight,
    unreadable,
  ];
  for (const item of all) {
    lines.push(`# HELP ${item.name} ${item.help}`, `# TYPE ${item.name} ${item.type}`);
    for (const sample of item.samples) lines.push(`${item.name}${sample}`);
  }
  return lines.join("\n") + "\n";
}

function addSubscription(
  families: Record<
    "fannedOut" | "failed" | "pushed" | "failures" | "retries" | "dropped" | "pending" | "oldest",
    Family
  >,
  subscription: Subscription,
  now: number,
): void {
  const labels = `topic="${subscription.topic}",subscription="${subscription.name}"`;
  families.fannedOut.samples.push(`{${labels}} ${subscription.fannedOutMessages}`);
  families.failed.samples.push(`{${labels}} ${subscription.failedMessages}`);
  const push = subscription.push;
  if (push === undefined) return;
  families.pushed.samples.push(`{${labels}} ${push.pushed}`);
  families.failures.samples.push(`{${labels}} ${push.failures}`);
  families.retries.samples.push(`{${labels}} ${push.retries}`);
  families.dropped.samples.push(`{${labels},reason="retries"} ${push.dropped}`);
  families.dropped.samples.push(`{${labels},reason="retention"} ${push.expired}`);
  families.pending.samples.push(`{${labels}} ${subscription.pendingMessages ?? 0}`);
  const oldest = subscription.oldestPendingAt ?? null;
  const age = oldest === null ? 0 : Math.max(0, now - oldest) / 1000;
  families.oldest.samples.push(`{${labels}} ${age}`);
}
