import assert from "node:assert/strict";
import { memoryEngine } from "../cluster/testing/mod.ts";
import { PushWorker } from "./push_worker.ts";
import { pushRequest } from "./push_request.ts";
import { hook, manualEndpoint, settle, setup, sourceWith, tick } from "./_push_worker_fixtures.ts";

Deno.test("due pushes are posted once each and a 2xx is recorded as pushed", async () => {
  const context = await setup();
  await hook(context, "merchant");
  context.clock.advance(1_234); // a time that is no whole second
  const publishedAt = context.clock.now();
  await context.topics.publish("t", [{ body: "a", tags: ["paid"] }, { body: "b" }]);
  context.worker.start();
  await tick(context);
  const calls = context.endpoint.calls;
  assert.equal(calls.length, 2);
  const first = JSON.parse(calls[0].body);
  // The README's push: publishTime in CMQ's whole seconds, publishTimeMs in milliseconds.
  assert.equal(first.publishTime, Math.floor(publishedAt / 1000));
  assert.equal(first.publishTimeMs, publishedAt);
  assert.equal(first.TopicOwner, 0);
  assert.equal(calls[0].headers["user-agent"], "cmqd-push/1");
  assert.equal(calls[0].headers["content-type"], "text/plain; charset=utf-8");
  assert.equal(first.topicName, "t");
  assert.equal(first.subscriptionName, "merchant");
  assert.equal(first.msgBody, "a");
  assert.deepEqual(first.msgTag, ["paid"]);
  assert.equal(calls[0].headers["x-cmq-message-id"], first.msgId);
  assert.equal(calls[0].headers["x-cmq-message-tag"], "paid");
  calls.forEach((call) => call.answer(204));
  await tick(context);
  const view = await context.topics.getSubscription("t", "merchant");
  assert.equal(view.pendingMessages, 0);
  assert.equal(view.deliveredMessages, 2);
  assert.equal(context.latencies.length, 2);
  await tick(context, 5_000);
  assert.equal(calls.length, 2, "nothing is pushed twice");
  context.worker.stop();
});

Deno.test("a failed push is retried on the exponentialDecay schedule", async () => {
  const context = await setup();
  await hook(context, "merchant");
  await context.topics.publish("t", [{ body: "a" }]);
  context.worker.start();
  await tick(context);
  context.endpoint.calls[0].answer(500);
  await tick(context);
  let view = await context.topics.getSubscription("t", "merchant");
  assert.equal(view.lastError?.message, "HTTP 500");
  assert.equal(view.nextAttemptAt, context.clock.now() + 1000);
  await tick(context, 999);
  assert.equal(context.endpoint.calls.length, 1, "not before the next attempt is due");
  await tick(context, 1);
  assert.equal(context.endpoint.calls.length, 2);
  assert.equal(context.endpoint.calls[1].headers["x-cmq-request-id"].endsWith("-1"), true);
  context.endpoint.calls[1].answer(200);
  await tick(context);
  view = await context.topics.getSubscription("t", "merchant");
  assert.equal(view.pendingMessages, 0);
  assert.deepEqual(view.push, { pushed: 1, failures: 1, retries: 1, dropped: 0, expired: 0 });
  context.worker.stop();
});

Deno.test("a request that outlives its timeout is aborted and counted as failed", async () => {
  const context = await setup({ requestTimeoutMs: 3_000 });
  await hook(context, "slow");
  await context.topics.publish("t", [{ body: "a" }]);
  context.worker.start();
  await tick(context);
  const call = context.endpoint.calls[0];
  await tick(context, 3_000);
  assert.equal(call.signal.aborted, true);
  const view = await context.topics.getSubscription("t", "slow");
  assert.equal(view.lastError?.message, "timeout after 3000 ms");
  context.worker.stop();
});

Deno.test("requests started at different times each time out exactly requestTimeoutMs after their start", async () => {
  const context = await setup({ requestTimeoutMs: 3_000 });
  await hook(context, "a");
  await hook(context, "b");
  await context.topics.publish("t", [{ body: "1" }]);
  context.worker.start();
  await tick(context);
  assert.equal(context.endpoint.calls.length, 2, "one request per subscription");
  const early = context.endpoint.calls;
  early[1].answer(204); // answered in time: never aborted later
  await tick(context, 1_000);
  await context.topics.publish("t", [{ body: "2" }]);
  await tick(context);
  const late = context.endpoint.calls.slice(2);
  assert.equal(late.length, 2);
  await tick(context, 1_999);
  assert.deepEqual([early[0].signal.aborted, late[0].signal.aborted], [false, false]);
  await tick(context, 1);
  assert.equal(early[0].signal.aborted, true, "3000 ms after its start");
  assert.equal(early[1].signal.aborted, false);
  assert.deepEqual([late[0].signal.aborted, late[1].signal.aborted], [false, false]);
  late[1].answer(204);
  await tick(context, 999);
  assert.equal(late[0].signal.aborted, false);
  await tick(context, 1);
  assert.equal(late[0].signal.aborted, true, "3000 ms after its own start");
  assert.equal(late[1].signal.aborted, false);
  context.worker.stop();
});

Deno.test("stop aborts what is in flight without recording it; start resumes from the state", async () => {
  const context = await setup();
  await hook(context, "merchant");
  await context.topics.publish("t", [{ body: "a" }]);
  context.worker.start();
  await tick(context);
  const first = context.endpoint.calls[0];
  context.worker.stop();
  assert.equal(first.signal.aborted, true);
  await tick(context);
  const view = await context.topics.getSubscription("t", "merchant");
  assert.equal(view.pendingMessages, 1);
  assert.equal(view.push?.failures, 0, "an aborted attempt of a stopped worker is not an outcome");
  context.worker.start();
  await tick(context);
  assert.equal(context.endpoint.calls.length, 2, "the new leader pushes it again");
  context.endpoint.calls[1].answer(200);
  await tick(context);
  assert.equal((await context.topics.getSubscription("t", "merchant")).pendingMessages, 0);
  context.worker.stop();
});

Deno.test("a publish wakes a started worker without waiting for its idle check", async () => {
  const context = await setup({ idleCheckMs: 60_000 });
  await hook(context, "merchant");
  context.worker.start();
  await tick(context);
  await context.topics.publish("t", [{ body: "a" }]);
  await tick(context);
  assert.equal(context.endpoint.calls.length, 1);
  context.worker.stop();
});

Deno.test("two subscriptions' pushes of one message to one callback are told apart by their headers, in every format", async () => {
  for (const format of ["simplified", "json"] as const) {
    const context = await setup();
    const extra = { endpoint: { url: "http://same.test/" }, format };
    await hook(context, "eu", extra);
    await hook(context, "us", extra);
    await context.topics.publish("t", [{ body: "a" }]);
    context.worker.start();
    await tick(context);
    const calls = context.endpoint.calls;
    assert.equal(calls.length, 2);
    assert.equal(calls[0].headers["x-cmq-message-id"], calls[1].headers["x-cmq-message-id"]);
    // What a callback keys its idempotency on: topic, subscription and message id.
    const keys = calls.map((call) =>
      [
        call.headers["x-cmq-topic-name"],
        call.headers["x-cmq-subscription-name"],
        call.headers["x-cmq-message-id"],
      ].join(" ")
    );
    const id = calls[0].headers["x-cmq-message-id"];
    assert.deepEqual(keys.sort(), [`t eu ${id}`, `t us ${id}`], format);
    // A callback that de-duplicates on the request id alone keeps both deliveries.
    const requestIds = calls.map((call) => call.headers["x-cmq-request-id"]);
    assert.notEqual(requestIds[0], requestIds[1], format);
    calls.forEach((call) => call.answer(200));
    await tick(context);
    context.worker.stop();
  }
});

Deno.test("the request id is the same for a repeat of one attempt (a new leader's), and differs per attempt and per subscription", async () => {
  const context = await setup();
  await hook(context, "eu");
  await hook(context, "us");
  await context.topics.publish("t", [{ body: "a" }]);
  context.worker.start();
  await tick(context);
  const calls = context.endpoint.calls;
  const idOf = (call: { headers: Record<string, string> }) => call.headers["x-cmq-request-id"];
  const first = new Map(calls.map((call) => [call.url, idOf(call)]));
  context.worker.stop(); // the old leader's attempts end unrecorded: the new one repeats them
  context.worker.start();
  await tick(context);
  assert.equal(calls.length, 4);
  for (const call of calls.slice(2)) assert.equal(idOf(call), first.get(call.url), call.url);
  calls[2].answer(500);
  calls[3].answer(500);
  await tick(context);
  await tick(context, 1_000);
  assert.equal(calls.length, 6);
  const seen = new Set(calls.map(idOf));
  assert.equal(seen.size, 4, "two subscriptions × two attempts");
  calls.slice(4).forEach((call) => call.answer(200));
  await tick(context);
  context.worker.stop();
});

Deno.test("simplified pushes carry the raw body; headers percent-encode tags and keys", () => {
  const target = {
    topic: "t",
    subscription: "s",
    subscriptionIncarnation: 3,
    url: "http://x.test/",
    format: "simplified" as const,
    failing: false,
  };
  const delivery = {
    sequence: 1,
    attempt: 2,
    messageId: "m1",
    body: "raw body",
    tags: ["支付", "a,b"],
    routingKey: "orders.eu",
    publishTime: 5,
  };
  const simplified = pushRequest(target, delivery);
  assert.equal(simplified.init.body, "raw body");
  assert.equal(simplified.init.headers["content-type"], "text/plain; charset=utf-8");
  assert.equal(simplified.init.headers["x-cmq-message-tag"], "%E6%94%AF%E4%BB%98, a%2Cb");
  assert.equal(simplified.init.headers["x-cmq-routing-key"], "orders.eu");
  assert.equal(
    simplified.init.headers["x-cmq-request-id"],
    "m1-3-2",
    "message, subscription, attempt",
  );
  const json = pushRequest({ ...target, format: "json" }, { ...delivery, tags: [] });
  assert.deepEqual(JSON.parse(json.init.body), {
    TopicOwner: 0,
    topicName: "t",
    subscriptionName: "s",
    msgId: "m1",
    msgBody: "raw body",
    publishTime: 0,
    publishTimeMs: 5,
    msgTag: [],
    routingKey: "orders.eu",
  });
  assert.equal(json.init.headers["x-cmq-message-tag"], undefined);
  new Headers(simplified.init.headers); // every header value is a valid ByteString
});

Deno.test("nothing is pushed before the new leader's read barrier passes", async () => {
  const context = await setup();
  await hook(context, "merchant");
  let release = () => {};
  const barrier = new Promise<void>((resolve) => (release = resolve));
  const source = context.topics;
  const original = source.barrier.bind(source);
  source.barrier = () => barrier.then(original);
  context.worker.start();
  await context.topics.publish("t", [{ body: "a" }]);
  await tick(context, 5_000);
  assert.equal(context.endpoint.calls.length, 0, "a publish does not wake a worker still waiting");
  release();
  await tick(context);
  assert.equal(context.endpoint.calls.length, 1);
  context.worker.stop();
});

Deno.test("a PATCH of the format applies to the next push of a running worker", async () => {
  const context = await setup();
  await hook(context, "merchant");
  await context.topics.publish("t", [{ body: "a" }]);
  context.worker.start();
  await tick(context);
  const calls = context.endpoint.calls;
  assert.equal(JSON.parse(calls[0].body).msgBody, "a", "a JSON push");
  calls[0].answer(200);
  await tick(context);
  await context.topics.updateSubscription("t", "merchant", { format: "simplified" });
  await context.topics.publish("t", [{ body: "b" }]);
  await tick(context);
  assert.equal(calls.length, 2);
  assert.equal(calls[1].headers["content-type"], "text/plain; charset=utf-8");
  assert.equal(calls[1].body, "b", "the raw body");
  calls[1].answer(200);
  await tick(context);
  context.worker.stop();
});

Deno.test("a pass reads only the subscriptions that have pushes pending, not every URL subscription", async () => {
  // Before, every pass built a lane for, and read the due pushes of, every URL subscription of
  // the node: 10,000 idle ones (100 topics of 100) cost about 5 ms a pass, and made one busy
  // subscription's pushes 4.5 times slower (2,000 pushes: 350 ms without them, 1,590 ms with).
  const engine = memoryEngine();
  const endpoint = manualEndpoint();
  const read: string[] = [];
  const source = engine.topics;
  const worker = new PushWorker({
    source: sourceWith(source, {
      duePushes: (target, now, options) => {
        read.push(target.subscription);
        return source.duePushes(target, now, options);
      },
    }),
    fetch: endpoint.fetch,
    clock: engine.clock,
    timers: engine.clock,
    logError: () => {},
  });
  await engine.topics.createTopic("t", {});
  for (let index = 0; index < 50; index++) {
    await engine.topics.subscribe("t", `idle${index}`, {
      endpoint: { url: `http://idle${index}.test/` },
      filterTags: ["never"],
    });
  }
  await engine.topics.subscribe("t", "busy", { endpoint: { url: "http://busy.test/" } });
  worker.start();
  engine.clock.advance(0);
  await settle();
  for (let round = 0; round < 3; round++) {
    await engine.topics.publish("t", [{ body: `m${round}` }]);
    engine.clock.advance(0);
    await settle();
    for (const call of endpoint.calls) call.answer(200);
    engine.clock.advance(0);
    await settle();
  }
  assert.equal(endpoint.calls.length, 3);
  assert.deepEqual([...new Set(read)], ["busy"], "only the busy subscription was read");
  assert.deepEqual(engine.topics.pushTargets(), [], "nothing pending: no targets");
  worker.stop();
});

Deno.test("a deleted subscription gets no new request, only those in flight end", async () => {
  // Two in flight at once overall: the lane reads ahead more than it can start.
  const context = await setup({ inflightMax: 2 });
  await hook(context, "gone");
  await context.topics.publish(
    "t",
    Array.from({ length: 10 }, (_, index) => ({ body: `${index}` })),
  );
  context.worker.start();
  await tick(context);
  const calls = context.endpoint.calls;
  assert.equal(calls.length, 2);
  await context.topics.unsubscribe("t", "gone");
  for (const call of calls) call.answer(200);
  await tick(context);
  await tick(context, 1_000);
  assert.equal(calls.length, 2, "nothing was pushed after the unsubscribe");
  context.worker.stop();
});

Deno.test("an outcome whose PushResults proposal was refused is proposed again; the push is not sent again", async () => {
  // Before, a refused proposal (the replica's TooManyWrites under a burst of writes, while this
  // node still led) put the push back among the due ones: 1 s later a message its endpoint had
  // answered 2xx was posted again, with no leader change (the README allows a repeat only then).
  const engine = memoryEngine();
  const endpoint = manualEndpoint();
  const source = engine.topics;
  let refusals = 1;
  const recorded: boolean[] = [];
  const worker = new PushWorker({
    source: sourceWith(source, {
      recordPushOutcomes: (outcomes) => {
        recorded.push(...outcomes.map((outcome) => outcome.ok));
        if (refusals-- > 0) return Promise.reject(new Error("TooManyWrites"));
        return source.recordPushOutcomes(outcomes);
      },
    }),
    fetch: endpoint.fetch,
    clock: engine.clock,
    timers: engine.clock,
    limits: { retryAfterFailedProposalMs: 1_000 },
    logError: () => {},
  });
  await source.createTopic("t", {});
  await source.subscribe("t", "merchant", { endpoint: { url: "http://merchant.test/" } });
  await source.publish("t", [{ body: "a" }]);
  worker.start();
  engine.clock.advance(0);
  await settle();
  assert.equal(endpoint.calls.length, 1);
  endpoint.calls[0].answer(200);
  await settle();
  for (let second = 0; second < 5; second++) {
    engine.clock.advance(1_000);
    await settle();
  }
  assert.equal(endpoint.calls.length, 1, "the endpoint answered 2xx: it gets the message once");
  assert.deepEqual(recorded, [true, true], "the same outcome, proposed again");
  const view = await source.getSubscription("t", "merchant");
  assert.equal(view.pendingMessages, 0);
  assert.equal(view.deliveredMessages, 1);
  worker.stop();
});

Deno.test("stop leaves no timer of the worker behind", async () => {
  // Before, stop left the timer of a pass queued by the last answer and, after a refused
  // PushResults proposal, the one that retries it (up to retryAfterFailedProposalMs): they did
  // nothing when they fired, but kept a stopped node's timers (and process) alive meanwhile.
  const engine = memoryEngine();
  const endpoint = manualEndpoint();
  const source = engine.topics;
  const worker = new PushWorker({
    source: sourceWith(source, {
      recordPushOutcomes: () => Promise.reject(new Error("TooManyWrites")),
    }),
    fetch: endpoint.fetch,
    clock: engine.clock,
    timers: engine.clock,
    limits: { retryAfterFailedProposalMs: 60_000, requestTimeoutMs: 60_000 },
    logError: () => {},
  });
  await source.createTopic("t", {});
  await source.subscribe("t", "merchant", { endpoint: { url: "http://merchant.test/" } });
  await source.publish("t", [{ body: "a" }, { body: "b" }]);
  const before = engine.clock.timerCount;
  worker.start();
  engine.clock.advance(0);
  await settle();
  assert.equal(endpoint.calls.length, 2);
  endpoint.calls[0].answer(200); // its outcome's proposal is refused: retried later
  await settle();
  endpoint.calls[1].answer(200); // queues a pass
  worker.stop();
  await settle();
  assert.equal(engine.clock.timerCount, before, "the stopped worker's timers are cleared");
});
