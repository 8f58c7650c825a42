/**
 * A node's whole `/metrics` read by a strict parser of the text format: every family once, with
 * one HELP and one TYPE, counters ending in `_total`, histograms cumulative up to `+Inf`; and
 * requests a client makes up (random paths, methods, queue names) add no series.
 */
import assert from "node:assert/strict";
import { SimFileSystem } from "../../storage/mod.ts";
import { parsePrometheusStrict } from "../http/testing/mod.ts";
import type { CmqdNode } from "./node.ts";
import { startOneNode, until } from "./testing/mod.ts";

async function scrapeStrict(node: CmqdNode) {
  const response = await node.app.request("/metrics");
  assert.equal(response.status, 200);
  return parsePrometheusStrict(await response.text());
}

function seriesCount(families: Awaited<ReturnType<typeof scrapeStrict>>): number {
  let count = 0;
  for (const family of families.values()) count += family.samples.length;
  return count;
}

Deno.test("a busy node's /metrics passes a strict text-format parser", async () => {
  let pushes = 0;
  const node = await startOneNode(new SimFileSystem(), {
    pushFetch: () => Promise.resolve({ status: pushes++ % 2 === 0 ? 200 : 500 }),
  });
  try {
    await node.broker.createQueue("dlq", {});
    await node.broker.createQueue("jobs", { deadLetter: { queue: "dlq", maxReceiveCount: 1 } });
    await node.broker.sendMessages("jobs", [{ body: "1" }]);
    await node.topics.createTopic("payments", {});
    await node.topics.subscribe("payments", "risk", { endpoint: { queue: "jobs" } });
    await node.topics.subscribe("payments", "merchant", {
      endpoint: { url: "http://127.0.0.1:9/notify" },
    });
    await node.topics.publish("payments", [{ body: "a" }, { body: "b" }]);
    await until(() => pushes >= 2, "two push attempts");
    for (const path of ["/v1/queues", "/v1/queues/jobs", "/nope", "/healthz", "/v1/cluster"]) {
      await (await node.app.request(path)).body?.cancel();
    }
    const families = await scrapeStrict(node);
    for (
      const name of [
        "cmqd_http_requests_total",
        "cmqd_http_request_duration_seconds",
        "cmqd_queue_active_messages",
        "cmqd_raft_role",
        "cmqd_topic_published_messages_total",
        "cmqd_push_latency_seconds",
        "cmqd_push_dropped_total",
        "cmqd_push_unreadable_messages",
      ]
    ) {
      assert.ok(families.has(name), name);
    }
    assert.equal(families.get("cmqd_http_request_duration_seconds")?.type, "histogram");
  } finally {
    await node.close();
  }
});

Deno.test("requests to made-up paths, methods and queues add no series to /metrics", async () => {
  const node = await startOneNode(new SimFileSystem());
  try {
    const junk = async (index: number) => {
      const requests = [
        new Request(`http://x/random-${index}`),
        new Request(`http://x/v1/queues/no-such-${index}`),
        new Request(`http://x/v1/queues/bad%20name${index}/messages`, { method: "POST" }),
        new Request(`http://x/v1/topics/none-${index}`, { method: "DELETE" }),
        new Request(`http://x/v2/index.php?Action=Nope${index}`),
        new Request(`http://x/?Action=Nope${index}`, { method: "POST" }),
        new Request(`http://x/v1/queues/q/x${index}`, { method: `M${index}` }),
      ];
      for (const request of requests) await (await node.app.request(request)).body?.cancel();
    };
    for (let index = 0; index < 3; index++) await junk(index);
    await scrapeStrict(node); // the scrape's own series
    const before = seriesCount(await scrapeStrict(node));
    for (let index = 3; index < 40; index++) await junk(index);
    assert.equal(seriesCount(await scrapeStrict(node)), before);
  } finally {
    await node.close();
  }
});

Deno.test("/metrics lists the subscriptions of the first 1,000 topics up to 1,000 in all (a bounded scrape)", async () => {
  const node = await startOneNode(new SimFileSystem());
  try {
    // 1,100 subscriptions: 11 topics of 100 (the most a topic takes).
    for (let topic = 0; topic < 11; topic++) {
      const name = `t${String(topic).padStart(2, "0")}`;
      await node.topics.createTopic(name, {});
      await Promise.all(
        Array.from(
          { length: 100 },
          (_, index) =>
            node.topics.subscribe(name, `s${String(index).padStart(3, "0")}`, {
              endpoint: { url: `http://127.0.0.1:9/${index}` },
            }),
        ),
      );
    }
    const families = await scrapeStrict(node);
    assert.equal(families.get("cmqd_topic_published_messages_total")?.samples.length, 11);
    for (const name of ["cmqd_topic_fanned_out_messages_total", "cmqd_push_pending_messages"]) {
      const samples = families.get(name)!.samples;
      assert.equal(samples.length, 1000, `${name}: the first 1,000 subscriptions`);
      const last = Object.fromEntries(samples.at(-1)!.labels);
      assert.deepEqual(last, { topic: "t09", subscription: "s099" }, "topic, then name order");
    }
    assert.equal(families.get("cmqd_push_dropped_total")!.samples.length, 2000, "two reasons");
  } finally {
    await node.close();
  }
});

Deno.test("metricsTopicSeries caps the per-topic and per-subscription series at the first n; 0 lists none", async () => {
  const subscribed = async (node: CmqdNode) => {
    for (const topic of ["c", "a", "b"]) {
      await node.topics.createTopic(topic, {});
      for (const name of ["s1", "s0"]) {
        await node.topics.subscribe(topic, name, { endpoint: { url: "http://127.0.0.1:9/" } });
      }
    }
  };
  const labels = (families: Awaited<ReturnType<typeof scrapeStrict>>, name: string) =>
    families.get(name)!.samples.map((sample) => Object.values(Object.fromEntries(sample.labels)));
  const two = await startOneNode(new SimFileSystem(), { metricsTopicSeries: 2 });
  try {
    await subscribed(two);
    const families = await scrapeStrict(two);
    // The first two topics by name; the first two subscriptions of those (topic, then name).
    assert.deepEqual(labels(families, "cmqd_topic_published_messages_total"), [["a"], ["b"]]);
    for (const name of ["cmqd_topic_fanned_out_messages_total", "cmqd_push_pending_messages"]) {
      assert.deepEqual(labels(families, name), [["a", "s0"], ["a", "s1"]], name);
    }
    const text = await (await two.app.request("/metrics")).text();
    assert.match(text, /^# HELP cmqd_topic_published_messages_total .*the first 2 by name/m);
    // The cut is visible: the counts of all topics and subscriptions stand beside the series.
    assert.match(text, /^cmqd_topics 3$/m);
    assert.match(text, /^cmqd_subscriptions 6$/m);
    assert.match(text, /^# HELP cmqd_topics .*the first 2 by name/m);
    assert.match(text, /^# HELP cmqd_subscriptions .*the first 2/m);
  } finally {
    await two.close();
  }
  const none = await startOneNode(new SimFileSystem(), { metricsTopicSeries: 0 });
  try {
    await subscribed(none);
    const families = await scrapeStrict(none);
    // The families stay, without samples, so the page's shape does not depend on the option.
    for (const name of ["cmqd_topic_published_messages_total", "cmqd_push_pushed_total"]) {
      assert.deepEqual(families.get(name)?.samples, [], name);
    }
    // The counts still count every topic and subscription.
    assert.equal(families.get("cmqd_topics")?.samples[0]?.value, 3);
    assert.equal(families.get("cmqd_subscriptions")?.samples[0]?.value, 6);
  } finally {
    await none.close();
  }
});
