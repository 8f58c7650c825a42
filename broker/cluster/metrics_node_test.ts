/**
 * A node's `/metrics` counts the long polls parked on it (what the scale probe reads to know its
 * polls are waiting), the depth of each queue and the age of its oldest message, of the first
 * 1,000, the messages each queue dead-lettered, and this node's Raft state, log trust and disk
 * guard (README, "Operations"); a deleted queue or topic leaves no series behind.
 */
import assert from "node:assert/strict";
import { SimFileSystem } from "../../storage/mod.ts";
import { parsePrometheusText } from "../http/testing/mod.ts";
import type { CmqdNode } from "./node.ts";
import { noPeers, startNode } from "./node.ts";
import { realTimers } from "./real_time.ts";
import { startOneNode, until } from "./testing/mod.ts";

/** The samples of the node's `/metrics`, by series (checks the text format on the way). */
async function scrape(node: CmqdNode): Promise<Map<string, number>> {
  return parsePrometheusText(await (await node.app.request("/metrics")).text());
}

/** A wall clock the test moves (the node's monotonic clock too, so cluster time follows it). */
function clockAt(start: number) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

Deno.test("/metrics reports the receives parked on the node", async () => {
  const node = await startOneNode(new SimFileSystem());
  const parked = async () => {
    const text = await (await node.app.request("/metrics")).text();
    return Number(/^cmqd_parked_receives (\d+)$/m.exec(text)?.[1]);
  };
  try {
    await node.broker.createQueue("idle", {});
    assert.equal(await parked(), 0);
    const polls = [1, 2, 3].map(() => node.broker.receiveMessages("idle", { waitSeconds: 20 }));
    await until(async () => (await parked()) === 3, "three parked receives");
    await node.broker.sendMessages("idle", [{ body: "one" }]);
    await until(async () => (await parked()) === 2, "one receive answered");
    await node.close();
    const answers = await Promise.all(polls);
    assert.equal(answers.flatMap((answer) => answer.messages).length, 1);
  } finally {
    await node.close();
  }
});

Deno.test("/metrics reports per-queue depths, of the first 1,000 queues", async () => {
  const node = await startOneNode(new SimFileSystem());
  try {
    await node.broker.createQueue("a-busy", {});
    await node.broker.sendMessages("a-busy", [{ body: "1" }, { body: "2" }, { body: "3" }]);
    await node.broker.sendMessages("a-busy", [{ body: "later", delaySeconds: 60 }]);
    await node.broker.receiveMessages("a-busy", { maxMessages: 1 });
    const names = Array.from({ length: 1000 }, (_, index) => `q${String(index).padStart(4, "0")}`);
    for (let from = 0; from < names.length; from += 250) {
      await Promise.all(
        names.slice(from, from + 250).map((name) => node.broker.createQueue(name, {})),
      );
    }
    const text = await (await node.app.request("/metrics")).text();
    const gauge = (name: string) =>
      [...text.matchAll(new RegExp(`^${name}\\{queue="([^"]+)"\\} ([\\d.]+)$`, "gm"))]
        .map((match) => [match[1], Number(match[2])] as const);
    for (const name of ["active", "inflight", "delayed", "oldest"]) {
      const lines = gauge(
        name === "oldest" ? "cmqd_queue_oldest_message_age_seconds" : `cmqd_queue_${name}_messages`,
      );
      assert.equal(lines.length, 1000, `${name}: one line per queue, the first 1,000 of 1,001`);
      assert.equal(lines[0][0], "a-busy");
      assert.ok(!lines.some(([queue]) => queue === "q0999"), "the 1,001st queue is cut");
    }
    // The cut is visible: the count of all queues stands beside the gauges.
    assert.match(text, /^cmqd_queues 1001$/m);
    assert.equal(gauge("cmqd_queue_active_messages")[0][1], 2);
    assert.equal(gauge("cmqd_queue_inflight_messages")[0][1], 1);
    assert.equal(gauge("cmqd_queue_delayed_messages")[0][1], 1);
  } finally {
    await node.close();
  }
});

Deno.test("metricsQueueSeries caps the per-queue depth gauges at the first n queues by name; 0 lists none", async () => {
  const gauges = (text: string) =>
    [...text.matchAll(/^cmqd_queue_(\w+)\{queue="([^"]+)"\} /gm)].map((match) => match[2]);
  const two = await startOneNode(new SimFileSystem(), { metricsQueueSeries: 2 });
  try {
    for (const name of ["c", "a", "b"]) await two.broker.createQueue(name, {});
    const text = await (await two.app.request("/metrics")).text();
    // Four gauges per listed queue; the third queue is left out, not summed into another series.
    assert.deepEqual(gauges(text), ["a", "b", "a", "b", "a", "b", "a", "b"]);
    assert.match(text, /^cmqd_queues 3$/m);
    assert.match(text, /^# HELP cmqd_queues .*the first 2 by name/m);
  } finally {
    await two.close();
  }
  const none = await startOneNode(new SimFileSystem(), { metricsQueueSeries: 0 });
  try {
    await none.broker.createQueue("a", {});
    const text = await (await none.app.request("/metrics")).text();
    assert.deepEqual(gauges(text), []);
    // The families stay, without samples, so the page's shape does not depend on the option.
    assert.match(text, /^# TYPE cmqd_queue_active_messages gauge$/m);
    assert.match(text, /^cmqd_queues 1$/m);
  } finally {
    await none.close();
  }
});

Deno.test("past --metrics-queue-series, the node-wide totals count every queue and the dead-letter series stop at the cut", async () => {
  const clock = clockAt(1_700_000_000_000);
  const node = await startOneNode(new SimFileSystem(), { clock, metricsQueueSeries: 2 });
  const perQueue = (samples: Map<string, number>, family: string) =>
    [...samples].filter(([name]) => name.startsWith(`${family}{`)).map(([name, value]) =>
      `${/queue="([^"]+)"/.exec(name)![1]} ${value}`
    );
  try {
    // "a" and "b" sort first and are listed; "c" and "z-dlq" are past the cut.
    await node.broker.createQueue("z-dlq", {});
    const attributes = { deadLetter: { queue: "z-dlq", maxReceiveCount: 1 } };
    for (const name of ["a", "b", "c"]) await node.broker.createQueue(name, attributes);
    for (const name of ["a", "b", "c"]) {
      await node.broker.sendMessages(name, [{ body: "1" }, { body: "2" }, { body: "3" }]);
      await node.broker.sendMessages(name, [{ body: "later", delaySeconds: 600 }]);
    }
    await node.broker.sendMessages("c", [{ body: "4" }, { body: "5" }]);
    const receive = (queue: string, maxMessages: number) =>
      node.broker.receiveMessages(queue, { maxMessages, visibilityTimeoutSeconds: 1 });
    assert.equal((await receive("a", 1)).messages.length, 1);
    assert.equal((await receive("c", 2)).messages.length, 2);
    clock.advance(1_000);
    // Their locks ended: the next receive moves them to z-dlq (1 from a, 2 from c).
    assert.equal((await receive("a", 1)).messages.length, 1);
    assert.equal((await receive("c", 3)).messages.length, 3);
    const samples = await scrape(node);
    const all = node.machine.listQueues({ limit: 100 }, clock.now()).queues;
    const sum = (pick: (queue: typeof all[0]) => number) =>
      all.reduce((total, queue) => total + pick(queue), 0);
    assert.equal(samples.get("cmqd_active_messages"), sum((queue) => queue.activeMessages));
    assert.equal(samples.get("cmqd_inflight_messages"), sum((queue) => queue.inflightMessages));
    assert.equal(samples.get("cmqd_delayed_messages"), sum((queue) => queue.delayedMessages));
    assert.deepEqual(
      [
        samples.get("cmqd_active_messages"),
        samples.get("cmqd_inflight_messages"),
        samples.get("cmqd_delayed_messages"),
      ],
      [1 + 3 + 3, 1 + 3, 3],
      "a: 1 visible, 1 in flight; b: 3 visible; c: 3 in flight; z-dlq: 3 visible; 1 delayed in each of a, b, c",
    );
    assert.deepEqual(perQueue(samples, "cmqd_queue_active_messages"), ["a 1", "b 3"]);
    assert.deepEqual(perQueue(samples, "cmqd_messages_dead_lettered_total"), ["a 1"], "c is cut");
    assert.equal(samples.get("cmqd_dead_lettered_messages_total"), 3, "the total counts c too");
    // With "a" gone, "c" is among the first two: its series shows what it moved since the start.
    await node.broker.deleteQueue("a");
    const after = await scrape(node);
    assert.deepEqual(perQueue(after, "cmqd_messages_dead_lettered_total"), ["c 2"]);
    assert.equal(after.get("cmqd_dead_lettered_messages_total"), 3, "a counter: a's move stays");
    assert.equal(after.get("cmqd_active_messages"), 3 + 3 + 0, "b and z-dlq");
  } finally {
    await node.close();
  }
});

Deno.test("/metrics reports the age of each queue's oldest undeleted message, growing with the clock", async () => {
  const clock = clockAt(1_700_000_000_000);
  const node = await startOneNode(new SimFileSystem(), { clock });
  const age = async (queue: string) =>
    (await scrape(node)).get(`cmqd_queue_oldest_message_age_seconds{queue="${queue}"}`);
  try {
    await node.broker.createQueue("jobs", {});
    await node.broker.createQueue("empty", {});
    await node.broker.sendMessages("jobs", [{ body: "first" }]);
    clock.advance(30_000);
    await node.broker.sendMessages("jobs", [{ body: "second" }]);
    assert.equal(await age("jobs"), 30);
    assert.equal(await age("empty"), 0, "an empty queue has no oldest message");
    clock.advance(15_000);
    assert.equal(await age("jobs"), 45, "the age grows with the clock, nothing applied");
    const [received] = (await node.broker.receiveMessages("jobs", { maxMessages: 1 })).messages;
    assert.equal(received.body, "first");
    assert.equal(await age("jobs"), 45, "a message in flight is still the oldest");
    await node.broker.deleteMessages("jobs", [received.receiptHandle]);
    assert.equal(await age("jobs"), 15, "once deleted, the next one is the oldest");
  } finally {
    await node.close();
  }
});

Deno.test("/metrics counts the messages each queue moved to its dead-letter queue, from 0 at each start", async () => {
  const fs = new SimFileSystem();
  const clock = clockAt(1_700_000_000_000);
  const node = await startOneNode(fs, { clock });
  const deadLettered = async (target: CmqdNode, queue: string) =>
    (await scrape(target)).get(`cmqd_messages_dead_lettered_total{queue="${queue}"}`);
  try {
    await node.broker.createQueue("dlq", {});
    for (const name of ["jobs", "mail"]) {
      await node.broker.createQueue(name, { deadLetter: { queue: "dlq", maxReceiveCount: 1 } });
    }
    await node.broker.sendMessages("jobs", [{ body: "1" }, { body: "2" }, { body: "3" }]);
    await node.broker.sendMessages("mail", [{ body: "a" }]);
    const receive = (queue: string) =>
      node.broker.receiveMessages(queue, { maxMessages: 10, visibilityTimeoutSeconds: 1 });
    assert.equal((await receive("jobs")).messages.length, 3);
    assert.equal((await receive("mail")).messages.length, 1);
    assert.equal(await deadLettered(node, "jobs"), undefined, "nothing moved yet");
    clock.advance(1_000);
    assert.equal((await receive("jobs")).messages.length, 0, "all three moved");
    assert.equal(await deadLettered(node, "jobs"), 3);
    assert.equal(await deadLettered(node, "mail"), undefined, "per queue");
    clock.advance(1_000);
    await receive("mail");
    assert.equal(await deadLettered(node, "mail"), 1);
    assert.equal(await deadLettered(node, "jobs"), 3);
    assert.equal(await deadLettered(node, "dlq"), undefined);
    assert.equal(node.machine.getQueue("dlq", clock.now())?.activeMessages, 4);
  } finally {
    await node.close();
  }
  const restarted = await startOneNode(fs, { clock });
  try {
    assert.equal(restarted.machine.getQueue("dlq", clock.now())?.activeMessages, 4);
    assert.equal(await deadLettered(restarted, "jobs"), undefined, "the replay is not counted");
  } finally {
    await restarted.close();
  }
});

Deno.test("a deleted queue's series leave /metrics at its delete: created again, it counts from 0", async () => {
  const clock = clockAt(1_700_000_000_000);
  const node = await startOneNode(new SimFileSystem(), { clock });
  const series = async (queue: string) =>
    [...(await scrape(node)).keys()].filter((name) => name.includes(`{queue="${queue}"}`));
  const deadLettered = 'cmqd_messages_dead_lettered_total{queue="jobs"}';
  /** Sends one message to `jobs` and has it dead-lettered (maxReceiveCount 1). */
  const deadLetterOne = async () => {
    await node.broker.sendMessages("jobs", [{ body: "poison" }]);
    const receive = () =>
      node.broker.receiveMessages("jobs", { maxMessages: 10, visibilityTimeoutSeconds: 1 });
    assert.equal((await receive()).messages.length, 1);
    clock.advance(1_000);
    assert.equal((await receive()).messages.length, 0, "moved to dlq");
  };
  try {
    await node.broker.createQueue("dlq", {});
    const attributes = { deadLetter: { queue: "dlq", maxReceiveCount: 1 } };
    await node.broker.createQueue("jobs", attributes);
    await deadLetterOne();
    await deadLetterOne();
    assert.equal((await scrape(node)).get(deadLettered), 2);
    assert.deepEqual(
      (await series("jobs")).sort(),
      [
        "cmqd_messages_dead_lettered_total",
        "cmqd_queue_active_messages",
        "cmqd_queue_delayed_messages",
        "cmqd_queue_inflight_messages",
        "cmqd_queue_oldest_message_age_seconds",
      ].map((name) => `${name}{queue="jobs"}`),
    );
    await node.broker.deleteQueue("jobs");
    assert.deepEqual(await series("jobs"), [], "no series of the deleted queue is left");
    assert.ok((await series("dlq")).length > 0, "the other queues' stay");
    await node.broker.createQueue("jobs", attributes);
    assert.equal((await scrape(node)).get(deadLettered), undefined, "nothing moved out of it yet");
    await deadLetterOne();
    assert.equal((await scrape(node)).get(deadLettered), 1, "from 0, not from the old 2");
    // Dropped as the delete applies, not at the next scrape: no scrape in between here.
    await node.broker.deleteQueue("jobs");
    await node.broker.createQueue("jobs", attributes);
    await deadLetterOne();
    assert.equal((await scrape(node)).get(deadLettered), 1);
  } finally {
    await node.close();
  }
});

Deno.test("a deleted topic's series leave /metrics: created again, its counters start at 0", async () => {
  const node = await startOneNode(new SimFileSystem());
  const published = 'cmqd_topic_published_messages_total{topic="news"}';
  const series = async () =>
    [...(await scrape(node)).keys()].filter((name) => name.includes('topic="news"'));
  try {
    await node.broker.createQueue("inbox", {});
    await node.topics.createTopic("news", {});
    await node.topics.subscribe("news", "copy", { endpoint: { queue: "inbox" } });
    await node.topics.publish("news", [{ body: "1" }, { body: "2" }]);
    assert.equal((await scrape(node)).get(published), 2);
    assert.ok((await series()).length >= 3, "published, and the subscription's series");
    await node.topics.deleteTopic("news");
    assert.deepEqual(await series(), []);
    await node.topics.createTopic("news", {});
    assert.equal((await scrape(node)).get(published), 0);
  } finally {
    await node.close();
  }
});

Deno.test("/metrics reports a one-voter leader's Raft state and no peers", async () => {
  const node = await startOneNode(new SimFileSystem());
  try {
    await node.broker.createQueue("jobs", {});
    const samples = await scrape(node);
    const status = node.replica.status();
    assert.equal(samples.get("cmqd_raft_term"), status.term);
    assert.ok(status.term >= 1);
    assert.equal(samples.get('cmqd_raft_role{role="leader"}'), 1);
    for (const role of ["follower", "candidate", "learner"]) {
      assert.equal(samples.get(`cmqd_raft_role{role="${role}"}`), 0, role);
    }
    assert.equal(samples.get("cmqd_raft_leader_known"), 1);
    assert.ok(samples.get("cmqd_raft_commit_index")! >= node.machine.appliedIndex - 1);
    assert.ok(samples.get("cmqd_raft_commit_index")! >= 2, "the no-op and the queue");
    assert.equal(samples.get("cmqd_raft_leader_changes_total"), 1, "its own leadership");
    assert.equal(samples.get("cmqd_raft_elections_started_total"), 1, "it elected itself");
    assert.equal(samples.get("cmqd_raft_voters"), 1);
    assert.equal(samples.get("cmqd_raft_learners"), 0);
    assert.equal(samples.get("cmqd_log_distrusted"), 0);
    const series = [...samples.keys()];
    assert.ok(!series.some((name) => name.startsWith("cmqd_raft_follower_")), "no followers");
    assert.ok(!series.some((name) => name.startsWith("cmqd_peer_connected")), "no peers");
  } finally {
    await node.close();
  }
});

Deno.test("/metrics reports the disk alarm and the free bytes the guard read", async () => {
  let free = 500;
  const node = await startOneNode(new SimFileSystem(), {
    minFreeDiskBytes: 100,
    freeDiskBytes: () => free,
    report: () => {},
    warn: () => {},
  });
  try {
    let samples = await scrape(node);
    assert.equal(samples.get("cmqd_disk_alarm"), 0);
    assert.equal(samples.get("cmqd_disk_free_bytes"), 500);
    free = 99;
    await until(async () => (await scrape(node)).get("cmqd_disk_alarm") === 1, "the alarm");
    samples = await scrape(node);
    assert.equal(samples.get("cmqd_disk_free_bytes"), 99);
  } finally {
    await node.close();
  }
  const off = await startOneNode(new SimFileSystem());
  try {
    const samples = await scrape(off);
    assert.equal(samples.get("cmqd_disk_alarm"), 0);
    assert.equal(samples.has("cmqd_disk_free_bytes"), false, "nothing read: the guard is off");
  } finally {
    await off.close();
  }
});

Deno.test("/metrics reports a log the node distrusts after damage, and no leader", async () => {
  const fs = new SimFileSystem();
  const first = await startOneNode(fs, { snapshotEntriesInterval: 1000 });
  try {
    await first.broker.createQueue("jobs", {});
    await first.broker.sendMessages("jobs", [{ body: "1" }, { body: "2" }]);
    assert.equal((await scrape(first)).get("cmqd_log_distrusted"), 0);
  } finally {
    await first.close();
  }
  const segment = fs.readDir("/d/log").filter((name) => name.endsWith(".log")).sort()[0];
  fs.flipBit(`/d/log/${segment}`, 40); // inside the first record's payload
  const node = await startNode({
    nodeId: "n1",
    dataDir: "/d",
    fs,
    clock: { now: () => Date.now() },
    timers: realTimers,
    transport: noPeers(),
    initialVoters: ["n1"],
    url: "http://127.0.0.1:1",
    tickMs: 5,
    report: () => {},
  });
  try {
    const samples = await scrape(node);
    assert.equal(samples.get("cmqd_log_distrusted"), 1);
    assert.equal(samples.get("cmqd_raft_leader_known"), 0, "it may not elect itself");
    assert.equal(samples.get('cmqd_raft_role{role="leader"}'), 0);
  } finally {
    await node.close();
  }
});
