/**
 * A node pushes to a real HTTP server: publish → POST with the JSON body and headers, retried
 * after a failure, survives a restart, and shows up in `/metrics`; a node that stops leading
 * closes its idle push connections.
 */
import assert from "node:assert/strict";
import { SimFileSystem } from "../../storage/mod.ts";
import type { CmqdNode } from "./node.ts";
import { startOneNode, until } from "./testing/mod.ts";
import { NodeNetwork, startNodeGroup } from "./_node_group.ts";

interface Received {
  id: string;
  body: unknown;
  tag: string | null;
}

/** A local HTTP sink that answers 500 to the first `failFirst` requests of every message. */
function startSink(failFirst: number) {
  const received: Received[] = [];
  const attempts = new Map<string, number>();
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (request) => {
    const id = request.headers.get("x-cmq-message-id") ?? "";
    const body = await request.json();
    const attempt = (attempts.get(id) ?? 0) + 1;
    attempts.set(id, attempt);
    if (attempt <= failFirst) return new Response("not yet", { status: 500 });
    received.push({ id, body, tag: request.headers.get("x-cmq-message-tag") });
    return new Response(null, { status: 204 });
  });
  return { received, attempts, server, url: `http://127.0.0.1:${server.addr.port}/notify` };
}

Deno.test("a leader pushes to a real endpoint, retries a failure, and reports it in metrics", async () => {
  const sink = startSink(1);
  const fs = new SimFileSystem();
  const node = await startOneNode(fs);
  try {
    await node.topics.createTopic("payments", {});
    await node.topics.subscribe("payments", "merchant", { endpoint: { url: sink.url } });
    const published = await node.topics.publish("payments", [{ body: "order 1", tags: ["paid"] }]);
    const id = published.messages[0].id;
    await until(() => sink.received.length === 1, "the push");
    assert.equal(sink.received[0].id, id);
    assert.equal(sink.received[0].tag, "paid");
    const { publishTime, publishTimeMs } = sink.received[0].body as Record<string, number>;
    assert.deepEqual(sink.received[0].body, {
      TopicOwner: 0,
      topicName: "payments",
      subscriptionName: "merchant",
      msgId: id,
      msgBody: "order 1",
      publishTime,
      publishTimeMs,
      msgTag: ["paid"],
    });
    assert.equal(publishTime, Math.floor(publishTimeMs / 1000), "CMQ's seconds, and milliseconds");
    assert.equal(sink.attempts.get(id), 2, "the first attempt failed, the retry (1 s) passed");
    await until(
      () => node.machine.topics.getSubscription("payments", "merchant")!.pendingMessages === 0,
      "the outcome",
    );
    const text = await (await node.app.request("/metrics")).text();
    const labels = 'topic="payments",subscription="merchant"';
    assert.match(text, /cmqd_topic_published_messages_total\{topic="payments"\} 1/);
    assert.ok(text.includes(`cmqd_push_pushed_total{${labels}} 1`), text);
    assert.ok(text.includes(`cmqd_push_failures_total{${labels}} 1`));
    assert.ok(text.includes(`cmqd_push_retries_total{${labels}} 1`));
    assert.ok(text.includes(`cmqd_push_pending_messages{${labels}} 0`));
    assert.ok(text.includes(`cmqd_push_oldest_pending_age_seconds{${labels}} 0`));
  } finally {
    await node.close();
    await sink.server.shutdown();
  }
});

Deno.test("pending pushes survive a restart and are delivered by the restarted leader", async () => {
  const fs = new SimFileSystem();
  const first = await startOneNode(fs);
  // The worker is stopped before the publish: the pushes wait, replicated, for the next leader.
  await first.topics.createTopic("t", {});
  const sink = startSink(0);
  await first.topics.subscribe("t", "hook", { endpoint: { url: sink.url } });
  first.push.stop();
  await first.topics.publish("t", [{ body: "a" }, { body: "b" }]);
  assert.equal(first.machine.topics.getSubscription("t", "hook")!.pendingMessages, 2);
  await first.close();
  assert.equal(sink.received.length, 0);
  const second = await startOneNode(fs);
  try {
    await until(() => sink.received.length === 2, "both pushes after the restart");
    assert.deepEqual(sink.received.map((item) => (item.body as { msgBody: string }).msgBody), [
      "a",
      "b",
    ]);
  } finally {
    await second.close();
    await sink.server.shutdown();
  }
});

Deno.test("a push to the node's own API is refused (no self-publish loop); another endpoint still gets its pushes", async () => {
  // The node serves its API as main.ts does: the listener first, the handler once it started.
  let handler: CmqdNode["handler"] = () => Promise.resolve(new Response(null, { status: 503 }));
  const api = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request, info) => handler(request, info),
  );
  const port = api.addr.port;
  const sink = startSink(0);
  const node = await startOneNode(new SimFileSystem(), { url: `http://127.0.0.1:${port}` });
  handler = node.handler;
  try {
    await node.topics.createTopic("loop", {});
    const publish = `/v2/index.php?Action=PublishMessage&topicName=loop&msgBody=x`;
    for (const [name, host] of [["self", "127.0.0.1"], ["named", "localhost"]]) {
      await node.topics.subscribe("loop", name, {
        endpoint: { url: `http://${host}:${port}${publish}` },
      });
    }
    await node.topics.subscribe("loop", "sink", { endpoint: { url: sink.url } });
    await node.topics.publish("loop", [{ body: "once" }]);
    await until(() => sink.received.length === 1, "the push to the sink");
    const lastError = (name: string) =>
      node.machine.topics.getSubscription("loop", name)!.lastError?.message ?? "";
    await until(() => lastError("self") !== "" && lastError("named") !== "", "both refusals");
    assert.match(
      lastError("self"),
      new RegExp(
        `^request failed: push to 127\\.0\\.0\\.1 port ${port} refused: 127\\.0\\.0\\.1 port ` +
          `${port} is this node's own API listener`,
      ),
    );
    assert.match(lastError("named"), /push to localhost \(127\.0\.0\.1.*own API listener/);
    // Retries (paused, as for an unreachable endpoint) are refused the same way.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const text = await (await node.app.request("/metrics")).text();
    assert.match(text, /cmqd_topic_published_messages_total\{topic="loop"\} 1\n/);
    assert.equal(node.machine.topics.getSubscription("loop", "self")!.pendingMessages, 1);
  } finally {
    await node.close();
    await api.shutdown();
    await sink.server.shutdown();
  }
});

Deno.test("--push-deny-networks: a push into a denied network fails with the reason, and is retried", async () => {
  const sink = startSink(0);
  const node = await startOneNode(new SimFileSystem(), { pushDenyNetworks: ["loopback"] });
  try {
    await node.topics.createTopic("t", {});
    await node.topics.subscribe("t", "hook", { endpoint: { url: sink.url } });
    await node.topics.publish("t", [{ body: "a" }]);
    const view = () => node.machine.topics.getSubscription("t", "hook")!;
    await until(() => view().lastError !== null && view().lastError !== undefined, "the refusal");
    assert.match(
      view().lastError!.message,
      /refused: 127\.0\.0\.1 is in loopback 127\.0\.0\.0\/8, which --push-deny-networks excludes$/,
    );
    assert.equal(view().pendingMessages, 1, "kept for the next attempt");
    assert.equal(sink.received.length, 0);
  } finally {
    await node.close();
    await sink.server.shutdown();
  }
});

/** A raw endpoint answering 204 on kept-alive connections; counts those the client ended. */
function startRawSink() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const state = { requests: 0, connections: 0, clientCloses: 0 };
  const serving = (async () => {
    for await (const conn of listener) {
      state.connections++;
      (async () => {
        const buffer = new Uint8Array(65536);
        try {
          while ((await conn.read(buffer)) !== null) {
            state.requests++; // a push is one small write
            await conn.write(new TextEncoder().encode("HTTP/1.1 204 No Content\r\n\r\n"));
          }
          state.clientCloses++;
        } catch { /* closed here */ }
        conn.close();
      })();
    }
  })();
  const url = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/notify`;
  return {
    state,
    url,
    async close() {
      listener.close();
      await serving.catch(() => {});
    },
  };
}

Deno.test("a node that stops leading closes its idle push connections", async () => {
  const sink = startRawSink();
  const ids = ["n1", "n2", "n3"];
  let nodes: CmqdNode[] = [];
  try {
    nodes = await startNodeGroup(new NodeNetwork(), ids, {
      // Idle connections are kept a minute: only the step-down can close this one in time.
      pushHttpLimits: { idleTimeoutMs: 60_000 },
    });
    const leaderOf = () => nodes.find((node) => node.replica.isLeader);
    await until(
      () => leaderOf() !== undefined && nodes.every((node) => node.replica.leaderId !== null),
      "a leader every node knows",
    );
    const leader = leaderOf()!;
    await leader.topics.createTopic("t", {});
    await leader.topics.subscribe("t", "hook", { endpoint: { url: sink.url } });
    await leader.topics.publish("t", [{ body: "a" }]);
    // The outcome is applied once the answer was read: its connection is pooled by then.
    await until(
      () => leader.machine.topics.getSubscription("t", "hook")!.deliveredMessages === 1,
      "the push",
    );
    assert.deepEqual(sink.state, { requests: 1, connections: 1, clientCloses: 0 });
    const successor = nodes.find((node) => node !== leader)!;
    leader.replica.transferLeadership(successor.replica.id);
    await until(() => successor.replica.isLeader && !leader.replica.isLeader, "the hand-over");
    await until(() => sink.state.clientCloses === 1, "the old leader to close its connection");
    assert.equal(sink.state.requests, 1);
  } finally {
    for (const node of nodes) await node.close();
    await sink.close();
  }
});

Deno.test("a node elected while it closes does not start pushing", async () => {
  const network = new NodeNetwork();
  const ids = ["n1", "n2", "n3"];
  let nodes: CmqdNode[] = [];
  try {
    nodes = await startNodeGroup(network, ids, { handOffMsMax: 20, shutdownDrainMsMax: 20_000 });
    const leaderOf = () => nodes.find((node) => node.replica.isLeader);
    await until(() => leaderOf() !== undefined, "a leader");
    const leader = leaderOf()!;
    const [a, b] = nodes.filter((node) => node !== leader).map((node) => node.replica.id);
    network.cut.add(a);
    network.cut.add(b);
    // A write in its log that cannot commit: the close drains it, the replica still running.
    const write = leader.topics.createTopic("t", {}).catch(() => {});
    await until(() => !leader.replica.isLeader, "the step-down (no quorum heard)");
    let electedWhileClosing = false;
    leader.replica.onRoleChange((change) => {
      if (change.role === "leader") electedWhileClosing = true;
    });
    const closing = leader.close();
    // Only the closing node can win now: `a` lacks the write, so the closing node refuses it.
    network.cut.delete(a);
    await closing;
    await write;
    assert.ok(electedWhileClosing, "the closing node was elected again");
    assert.equal(leader.push.stats().running, false, "the closed node's push worker runs");
  } finally {
    network.cut.clear();
    for (const node of nodes) await node.close();
  }
});
