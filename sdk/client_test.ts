import assert from "node:assert/strict";
import { CmqdClient, CmqdError } from "./mod.ts";
import { deferred, waitFor } from "./_test_helpers.ts";

interface Seen {
  url: string;
  method: string;
  headers: Headers;
  body: string | null;
}

/** A scripted transport: answers the queued responses in order and records every request. */
function scriptedFetch(script: (Response | Error | ((seen: Seen) => Response))[]) {
  const seen: Seen[] = [];
  const transport: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    const entry: Seen = {
      url: request.url,
      method: request.method,
      headers: request.headers,
      body: request.body === null ? null : await request.text(),
    };
    seen.push(entry);
    const next = script.shift();
    assert.ok(next !== undefined, `unexpected request ${request.method} ${request.url}`);
    if (next instanceof Error) throw next;
    return typeof next === "function" ? next(entry) : next;
  };
  return { transport, seen };
}

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(status === 204 ? null : JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

function errorResponse(code: string, status: number, headers: Record<string, string> = {}) {
  return json({ error: { code, message: `${code} happened`, requestId: "r-1" } }, status, headers);
}

function client(script: Parameters<typeof scriptedFetch>[0], extra: object = {}) {
  const { transport, seen } = scriptedFetch(script);
  const sleeps: number[] = [];
  const sdk = new CmqdClient({
    baseUrl: "http://node-a:8080/",
    fetch: transport,
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
    ...extra,
  });
  return { sdk, seen, sleeps };
}

Deno.test("createQueue reports created from 201 and existing from 200", async () => {
  const { sdk, seen } = client([json({ name: "orders" }, 201), json({ name: "orders" }, 200)]);
  assert.deepEqual(await sdk.createQueue("orders", { fifo: true }), {
    queue: { name: "orders" },
    created: true,
  });
  assert.equal((await sdk.createQueue("orders")).created, false);
  assert.equal(seen[0].method, "PUT");
  assert.equal(seen[0].url, "http://node-a:8080/v1/queues/orders");
  assert.equal(seen[0].headers.get("content-type"), "application/json");
  assert.deepEqual(JSON.parse(seen[0].body ?? ""), { fifo: true });
  assert.deepEqual(JSON.parse(seen[1].body ?? ""), {});
});

Deno.test("every method hits its documented path with its documented body", async () => {
  const ok = () => json({});
  const { sdk, seen } = client([
    ok(),
    ok(),
    ok(),
    json(null, 204),
    ok(),
    ok(),
    ok(),
    ok(),
    ok(),
    ok(),
    ok(),
    ok(),
    ok(),
    new Response("m 1\n"),
  ]);
  await sdk.listQueues({ prefix: "ord", offset: 5, limit: 10 });
  await sdk.getQueue("orders");
  await sdk.updateQueue("orders", { maxBacklog: 5 });
  await sdk.deleteQueue("orders");
  await sdk.sendMessages("orders", [{ body: "x" }]);
  await sdk.receiveMessages("orders", { maxMessages: 2, waitSeconds: 1 });
  await sdk.deleteMessages("orders", ["h"]);
  await sdk.changeVisibility("orders", [{ receiptHandle: "h", visibilityTimeoutSeconds: 0 }]);
  await sdk.rewind("orders", { sequence: 3 });
  await sdk.purge("orders");
  await sdk.redrive("dead", { maxMessages: 7 });
  await sdk.health();
  await sdk.cluster();
  assert.equal(await sdk.metrics(), "m 1\n");
  const calls = seen.map((entry) =>
    `${entry.method} ${new URL(entry.url).pathname}${new URL(entry.url).search}`
  );
  assert.deepEqual(calls, [
    "GET /v1/queues?prefix=ord&offset=5&limit=10",
    "GET /v1/queues/orders",
    "PATCH /v1/queues/orders",
    "DELETE /v1/queues/orders",
    "POST /v1/queues/orders/messages",
    "POST /v1/queues/orders/messages/receive",
    "POST /v1/queues/orders/messages/delete",
    "POST /v1/queues/orders/messages/visibility",
    "POST /v1/queues/orders/rewind",
    "POST /v1/queues/orders/purge",
    "POST /v1/queues/dead/redrive",
    "GET /healthz",
    "GET /v1/cluster",
    "GET /metrics",
  ]);
  const bodies = seen.map((entry) => entry.body === null ? null : JSON.parse(entry.body));
  assert.deepEqual(bodies.slice(2, 11), [
    { maxBacklog: 5 },
    null,
    { messages: [{ body: "x" }] },
    { maxMessages: 2, waitSeconds: 1 },
    { receiptHandles: ["h"] },
    { entries: [{ receiptHandle: "h", visibilityTimeoutSeconds: 0 }] },
    { sequence: 3 },
    null,
    { maxMessages: 7 },
  ]);
});

Deno.test("an error body becomes a CmqdError with code, status, field and request id", async () => {
  const { sdk } = client([
    json({
      error: { code: "InvalidParameter", message: "x: bad", requestId: "r-9", field: "x" },
    }, 400),
  ]);
  const error = await sdk.getQueue("orders").catch((caught) => caught);
  assert.ok(error instanceof CmqdError);
  assert.equal(error.code, "InvalidParameter");
  assert.equal(error.status, 400);
  assert.equal(error.field, "x");
  assert.equal(error.requestId, "r-9");
  assert.equal(error.message, "x: bad");
  assert.equal(error.retryable, false);
});

Deno.test("a non-cmqd error answer becomes UnexpectedResponse", async () => {
  const { sdk } = client([new Response("<html>bad gateway</html>", { status: 502 })]);
  const error = await sdk.getQueue("orders").catch((caught) => caught);
  assert.equal(error.code, "UnexpectedResponse");
  assert.equal(error.status, 502);
});

Deno.test("a 503 NoLeader is retried after Retry-After, then succeeds", async () => {
  const { sdk, seen, sleeps } = client([
    errorResponse("NoLeader", 503, { "retry-after": "2" }),
    errorResponse("NotReady", 503),
    json({ messages: [] }),
  ]);
  assert.deepEqual(await sdk.deleteMessages("orders", ["h"]), { messages: [] });
  assert.equal(seen.length, 3);
  assert.equal(sleeps[0], 2000);
  // The second retry backs off 2 × backoffMsMin, with jitter down to half of that.
  assert.ok(sleeps[1] >= 50 && sleeps[1] <= 100, `backoff ${sleeps[1]}`);
});

Deno.test("retries stop at attemptsMax and surface the last error", async () => {
  const { sdk, seen } = client([
    errorResponse("NoLeader", 503),
    errorResponse("NoLeader", 503),
  ], { retry: { attemptsMax: 2 } });
  const error = await sdk.getQueue("orders").catch((caught) => caught);
  assert.equal(error.code, "NoLeader");
  assert.equal(error.retryable, true);
  assert.equal(seen.length, 2);
});

Deno.test("back-off grows exponentially and is capped by backoffMsMax", async () => {
  const failures = Array.from({ length: 5 }, () => new TypeError("connection refused"));
  const { sdk, sleeps } = client([...failures, json({ status: "ok" })], {
    retry: { attemptsMax: 6, backoffMsMin: 100, backoffMsMax: 300 },
  });
  await sdk.health();
  const ceilings = [100, 200, 300, 300, 300];
  sleeps.forEach((ms, index) => {
    assert.ok(ms >= ceilings[index] / 2 && ms <= ceilings[index], `sleep ${index}: ${ms}`);
  });
});

Deno.test("network errors are retried only where a repeat is safe", async (t) => {
  await t.step("a GET is retried", async () => {
    const { sdk, seen } = client([new TypeError("reset"), json({ name: "q" })]);
    assert.deepEqual(await sdk.getQueue("q"), { name: "q" });
    assert.equal(seen.length, 2);
  });
  await t.step("a send with a dedupId on every message is retried", async () => {
    const { sdk, seen } = client([new TypeError("reset"), json({ messages: [] })]);
    await sdk.sendMessages("q", [{ body: "a", dedupId: "1" }, { body: "b", dedupId: "2" }]);
    assert.equal(seen.length, 2);
  });
  await t.step("a send without dedupIds is not", async () => {
    const { sdk, seen } = client([new TypeError("reset")]);
    const error = await sdk.sendMessages("q", [{ body: "a", dedupId: "1" }, { body: "b" }])
      .catch((caught) => caught);
    assert.equal(error.code, "NetworkError");
    assert.equal(error.status, 0);
    assert.equal(error.retryable, true);
    assert.equal(seen.length, 1);
  });
  await t.step("a delete and a visibility change are (a repeat changes nothing more)", async () => {
    const { sdk, seen } = client([
      new TypeError("reset"),
      json({ deleted: 1, failures: [] }),
      new TypeError("reset"),
      json({ entries: [], failures: [] }),
    ]);
    await sdk.deleteMessages("q", ["h"]);
    await sdk.changeVisibility("q", [{ receiptHandle: "h", visibilityTimeoutSeconds: 5 }]);
    assert.equal(seen.length, 4);
  });
  await t.step("a receive is not", async () => {
    const { sdk, seen } = client([new TypeError("reset")]);
    await assert.rejects(sdk.receiveMessages("q", { waitSeconds: 0 }), { code: "NetworkError" });
    assert.equal(seen.length, 1);
  });
});

Deno.test("client errors such as 404 and 429 are not retried", async () => {
  const { sdk, seen } = client([
    errorResponse("QueueNotFound", 404),
    errorResponse("BacklogFull", 429),
  ]);
  await assert.rejects(sdk.getQueue("q"), { code: "QueueNotFound", retryable: false });
  const error = await sdk.sendMessages("q", [{ body: "x", dedupId: "d" }]).catch((e) => e);
  assert.equal(error.code, "BacklogFull");
  assert.equal(error.retryable, true);
  assert.equal(seen.length, 2);
});

Deno.test("507 InsufficientStorage is marked retryable but left to the caller (the disk alarm)", async () => {
  const { sdk, seen } = client([errorResponse("InsufficientStorage", 507)]);
  const error = await sdk.sendMessages("q", [{ body: "x", dedupId: "d" }]).catch((e) => e);
  assert.ok(error instanceof CmqdError);
  assert.equal(error.code, "InsufficientStorage");
  assert.equal(error.status, 507);
  assert.equal(error.retryable, true);
  assert.equal(seen.length, 1, "not retried by the client");
});

Deno.test("the leader hint is followed and dropped when the leader is unreachable", async () => {
  const { sdk, seen } = client([
    json({ name: "q" }, 200, { "x-cmqd-leader": "http://node-b:8080/" }),
    json({ name: "q" }, 200, { "x-cmqd-leader": "http://node-b:8080" }),
    new TypeError("connection refused"),
    json({ name: "q" }, 200),
  ]);
  await sdk.getQueue("q");
  assert.equal(sdk.leaderUrl, "http://node-b:8080");
  await sdk.getQueue("q");
  await sdk.getQueue("q");
  assert.deepEqual(seen.map((entry) => new URL(entry.url).host), [
    "node-a:8080",
    "node-b:8080",
    "node-b:8080",
    "node-a:8080",
  ]);
  assert.equal(sdk.leaderUrl, undefined);
});

Deno.test("a leader dropped as unreachable is followed again when the next answer names it", async () => {
  const hint = { "x-cmqd-leader": "http://node-b:8080" };
  const { sdk, seen } = client([
    json({ name: "q" }, 200, hint),
    new TypeError("connection refused"),
    // node-a answers and still names node-b (it came back): the same hint as before.
    json({ name: "q" }, 200, hint),
    json({ name: "q" }, 200, hint),
  ]);
  await sdk.getQueue("q");
  await sdk.getQueue("q");
  assert.equal(sdk.leaderUrl, "http://node-b:8080");
  await sdk.getQueue("q");
  assert.deepEqual(seen.map((entry) => new URL(entry.url).host), [
    "node-a:8080",
    "node-b:8080",
    "node-a:8080",
    "node-b:8080",
  ]);
});

Deno.test("a hint that is not an http URL is ignored", async () => {
  const { sdk } = client([json({}, 200, { "x-cmqd-leader": "javascript:alert(1)" })]);
  await sdk.health();
  assert.equal(sdk.leaderUrl, undefined);
});

Deno.test("followLeader false keeps every request on baseUrl", async () => {
  const { sdk, seen } = client([
    json({}, 200, { "x-cmqd-leader": "http://node-b:8080" }),
    json({}, 200),
  ], { followLeader: false });
  await sdk.health();
  await sdk.health();
  assert.deepEqual(seen.map((entry) => new URL(entry.url).host), ["node-a:8080", "node-a:8080"]);
});

Deno.test("ready is false on 503 NotReady without retrying", async () => {
  const { sdk, seen } = client([errorResponse("NotReady", 503, { "retry-after": "1" }), json({})]);
  assert.equal(await sdk.ready(), false);
  assert.equal(await sdk.ready(), true);
  assert.equal(seen.length, 2);
});

Deno.test("a call past its timeout fails with Timeout", async () => {
  const hanging: typeof fetch = (_input, init) =>
    new Promise((_resolve, reject) => {
      init?.signal?.addEventListener("abort", () => reject(new DOMException("aborted")));
    });
  const sdk = new CmqdClient({
    baseUrl: "http://node-a:8080",
    fetch: hanging,
    timeoutMs: 5,
    retry: { attemptsMax: 1 },
  });
  await assert.rejects(sdk.getQueue("q"), { code: "Timeout", retryable: true });
});

Deno.test("a receive's timeout covers its long-poll wait", async () => {
  let signal: AbortSignal | undefined;
  const slow: typeof fetch = (_input, init) => {
    signal = init?.signal ?? undefined;
    return new Promise((resolve) => setTimeout(() => resolve(json({ messages: [] })), 30));
  };
  const sdk = new CmqdClient({ baseUrl: "http://node-a:8080", fetch: slow, timeoutMs: 5 });
  // A 1 s wait gives the request 1 s + 5 ms: the 30 ms answer arrives in time.
  assert.deepEqual(await sdk.receiveMessages("q", { waitSeconds: 1 }), { messages: [] });
  assert.equal(signal?.aborted, false);
});

Deno.test("the caller's signal aborts a receive", async () => {
  const hanging: typeof fetch = (_input, init) =>
    new Promise((_resolve, reject) => {
      init?.signal?.addEventListener("abort", () => reject(new DOMException("aborted")));
    });
  const sdk = new CmqdClient({ baseUrl: "http://node-a:8080", fetch: hanging });
  const controller = new AbortController();
  const pending = sdk.receiveMessages("q", { waitSeconds: 20 }, { signal: controller.signal });
  controller.abort();
  await assert.rejects(pending, { code: "Aborted" });
});

Deno.test("custom headers go with every request and names are URL-encoded", async () => {
  const { sdk, seen } = client([json({})], { headers: { authorization: "Bearer t" } });
  await sdk.getQueue("a/b");
  assert.equal(seen[0].headers.get("authorization"), "Bearer t");
  assert.equal(new URL(seen[0].url).pathname, "/v1/queues/a%2Fb");
});

Deno.test("a refused connection moves on to the next listed node at once, for any call", async () => {
  const refused = new TypeError("tcp connect error: Connection refused (os error 111)");
  const { sdk, seen, sleeps } = client([refused, json({ messages: [] }), json({ messages: [] })], {
    baseUrl: ["http://node-a:8080", "http://node-b:8080/"],
  });
  // A receive is not repeatable, but a request that never reached a node may go elsewhere.
  await sdk.receiveMessages("q", { waitSeconds: 0 });
  await sdk.receiveMessages("q", { waitSeconds: 0 });
  assert.deepEqual(seen.map((entry) => new URL(entry.url).host), [
    "node-a:8080",
    "node-b:8080",
    "node-b:8080",
  ]);
  assert.deepEqual(sleeps, [0]);
  assert.equal(sdk.nodeUrl, "http://node-b:8080");
});

Deno.test("a lost answer moves to the next node but retries only what is repeatable", async () => {
  const { sdk, seen } = client([new TypeError("reset"), json({ name: "q" })], {
    baseUrl: ["http://node-a:8080", "http://node-b:8080"],
  });
  assert.deepEqual(await sdk.getQueue("q"), { name: "q" });
  const lost = client([new TypeError("reset")], {
    baseUrl: ["http://node-a:8080", "http://node-b:8080"],
  });
  await assert.rejects(lost.sdk.sendMessages("q", [{ body: "x" }]), { code: "NetworkError" });
  assert.equal(lost.seen.length, 1);
  assert.equal(lost.sdk.nodeUrl, "http://node-b:8080", "the next call tries the other node");
  assert.deepEqual(seen.map((entry) => new URL(entry.url).host), ["node-a:8080", "node-b:8080"]);
});

Deno.test("a per-call timeoutMs overrides the client's", async () => {
  const hanging: typeof fetch = (_input, init) =>
    new Promise((_resolve, reject) => {
      init?.signal?.addEventListener("abort", () => reject(new DOMException("aborted")));
    });
  const sdk = new CmqdClient({
    baseUrl: "http://node-a:8080",
    fetch: hanging,
    timeoutMs: 60_000,
    retry: { attemptsMax: 1 },
  });
  const error = await sdk.getQueue("q", { timeoutMs: 5 }).catch((caught) => caught);
  assert.equal(error.code, "Timeout");
  assert.match(error.message, /5 ms/);
});

Deno.test("a custom HttpTransport carries every request", async () => {
  const requests: string[] = [];
  const sdk = new CmqdClient({
    baseUrl: "http://node-a:8080",
    transport: {
      request(request) {
        requests.push(`${request.method} ${request.url} ${request.body ?? ""}`);
        return Promise.resolve({
          status: 200,
          header: () => null,
          text: () => Promise.resolve(JSON.stringify({ messages: [{ id: "m", sequence: 1 }] })),
        });
      },
    },
  });
  assert.deepEqual(await sdk.sendMessages("q", [{ body: "x" }]), {
    messages: [{ id: "m", sequence: 1 }],
  });
  assert.deepEqual(requests, [
    'POST http://node-a:8080/v1/queues/q/messages {"messages":[{"body":"x"}]}',
  ]);
});

Deno.test("an answer that is not JSON becomes UnexpectedResponse", async () => {
  const { sdk } = client([new Response("not json", { status: 200 })]);
  await assert.rejects(sdk.getQueue("q"), { code: "UnexpectedResponse", status: 200 });
});

Deno.test("a name of . or .. is refused before any request (a URL would fold it into another path)", async () => {
  const { transport, seen } = scriptedFetch([]);
  const client = new CmqdClient({ baseUrl: "http://broker", fetch: transport });
  const calls: [string, () => Promise<unknown>][] = [
    ["name", () => client.getQueue("..")],
    ["name", () => client.deleteQueue(".")],
    ["queue", () => client.sendMessages("..", [{ body: "x" }])],
    ["name", () => client.deleteTopic("..")],
    ["name", () => client.unsubscribe("t1", "..")],
    ["topic", () => client.publish(".", [{ body: "x" }])],
  ];
  for (const [field, call] of calls) {
    await assert.rejects(call, (error: unknown) => {
      assert.ok(error instanceof CmqdError);
      assert.equal(error.code, "InvalidParameter");
      assert.equal(error.field, field);
      return true;
    });
  }
  assert.equal(seen.length, 0, "nothing was sent");
});

Deno.test("the caller's signal ends a call waiting out a retry's back-off", async () => {
  const { transport, seen } = scriptedFetch([
    // 5 s: within the default retry budget (one past it ends the call at once).
    errorResponse("NoLeader", 503, { "retry-after": "5" }),
  ]);
  const backOff = deferred<void>();
  let backingOff = false;
  const sdk = new CmqdClient({
    baseUrl: "http://node-a:8080",
    fetch: transport,
    sleep: () => {
      backingOff = true;
      return backOff.promise; // 5 s, as Retry-After asked
    },
  });
  const controller = new AbortController();
  let outcome: unknown;
  const pending = sdk.getQueue("q", { signal: controller.signal }).then(
    () => (outcome = "resolved"),
    (error) => (outcome = error),
  );
  await waitFor("the back-off after the 503", () => backingOff);
  controller.abort();
  try {
    await waitFor("the aborted call to settle", () => outcome !== undefined);
  } finally {
    backOff.resolve();
    await pending;
  }
  assert.ok(outcome instanceof CmqdError && outcome.code === "Aborted", String(outcome));
  assert.equal(seen.length, 1);
});

Deno.test("a 503 that may have taken effect is not repeated for a call unsafe to repeat", async (t) => {
  const answer = (code: string, message: string, outcomeUnknown?: true) =>
    json({ error: { code, message, requestId: "r-1", outcomeUnknown } }, 503, {
      "retry-after": "1",
    });
  // A request the broker says may have been carried out (`outcomeUnknown`): a write in the log
  // that timed out, or was cut by a stop; a forward the leader may have applied before it changed
  // or stopped answering.
  const mayHaveTakenEffect = [
    ["NotReady", "outcome unknown"],
    ["NotReady", "node stopped; outcome unknown"],
    ["NoLeader", "leader changed to http://n2:1 while forwarding; retry (safe with dedupId)"],
    ["NoLeader", "leader unreachable: connection reset by peer"],
  ];
  for (const [code, message] of mayHaveTakenEffect) {
    await t.step(`${code} '${message}'`, async () => {
      const { sdk, seen } = client([answer(code, message, true), answer(code, message, true)]);
      const error = await sdk.publish("t", [{ body: "once" }]).catch((caught) => caught);
      assert.equal(error.code, code);
      assert.equal(error.outcomeUnknown, true);
      assert.equal(error.retryable, true, "the caller may decide to repeat it");
      const unsafeSend = await sdk.sendMessages("q", [{ body: "once" }]).catch((e) => e);
      assert.equal(unsafeSend.code, code);
      assert.equal(seen.length, 2, "each sent once");
      // With a dedupId on every message a repeat is safe: repeated.
      const { sdk: safe, seen: safeSeen } = client([
        answer(code, message, true),
        json({ messages: [{ id: "m", sequence: 1 }] }),
      ]);
      await safe.sendMessages("q", [{ body: "once", dedupId: "d" }]);
      assert.equal(safeSeen.length, 2);
    });
  }
  // Answers without the flag (nothing was done) are repeated for any call, whatever they say.
  const notDone = [
    ["NoLeader", "no leader is known yet; retry shortly"],
    ["NoLeader", "not the leader; the leader is n2"],
    ["NoLeader", "leader unreachable: tcp connect error: leader:1: Connection refused"],
    ["NotReady", "too many writes in flight"],
    ["NotReady", "outcome unknown, says an answer without the flag"],
  ];
  for (const [code, message] of notDone) {
    await t.step(`${code} '${message}' is repeated`, async () => {
      const { sdk, seen } = client([
        answer(code, message),
        json({ messages: [{ id: "m", delivered: 0, refusedBy: [] }] }),
      ]);
      await sdk.publish("t", [{ body: "once" }]);
      assert.equal(seen.length, 2);
    });
  }
});

Deno.test("a node removed from the cluster sends calls on to the next listed node, for any call", async () => {
  // A removed node answers every API request 503 NodeRemoved before doing anything, with no
  // Retry-After and no leader hint (it knows none); it stays up for as long as it is not stopped.
  const removed = () =>
    json({
      error: { code: "NodeRemoved", message: "this node was removed from the cluster" },
    }, 503);
  const published = () => json({ messages: [{ id: "m", delivered: 1, refusedBy: [] }] });
  const { sdk, seen, sleeps } = client([removed(), published(), published()], {
    baseUrl: ["http://node-a:8080", "http://node-b:8080"],
  });
  // A publish is never repeated after a lost answer; this one was refused, so it may go on.
  await sdk.publish("t", [{ body: "once" }]);
  await sdk.publish("t", [{ body: "twice" }]);
  assert.deepEqual(seen.map((entry) => new URL(entry.url).host), [
    "node-a:8080",
    "node-b:8080",
    "node-b:8080",
  ]);
  assert.deepEqual(sleeps, [0]);
  // With one node known there is nowhere else to go: the answer is the caller's.
  const alone = client([removed()]);
  await assert.rejects(alone.sdk.getQueue("q"), { code: "NodeRemoved" });
  assert.equal(alone.seen.length, 1);
});

Deno.test("a body the broker stopped waiting for (408 RequestTimeout) is sent again: nothing was done", async () => {
  const { sdk, seen } = client([
    errorResponse("RequestTimeout", 408),
    json({ messages: [{ id: "m1" }] }),
  ]);
  // A send without dedupId: a repeat is safe only because the broker did nothing of it.
  await sdk.sendMessages("q", [{ body: "a" }]);
  assert.equal(seen.length, 2);
  const { sdk: once } = client([errorResponse("RequestTimeout", 408)], {
    retry: { attemptsMax: 1 },
  });
  const error = await once.sendMessages("q", [{ body: "a" }]).catch((caught) => caught);
  assert.equal(error.code, "RequestTimeout");
  assert.equal(error.retryable, true);
});
