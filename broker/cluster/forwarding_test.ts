import assert from "node:assert/strict";
import {
  forwardedHeader,
  forwardedHostHeader,
  forwardingHandler,
  leaderHeader,
} from "./forwarding.ts";

function view(isLeader: boolean, leaderUrl: string | null) {
  return { isLeader: () => isLeader, leaderUrl: () => leaderUrl };
}

const local = (request: Request) =>
  new Response(`local ${request.method} ${new URL(request.url).pathname}`);

Deno.test("the leader serves requests itself and names itself", async () => {
  const handler = forwardingHandler({
    view: view(true, "http://leader:1"),
    local,
    requestBytesMax: 1024,
  });
  const response = await handler(new Request("http://me/v1/queues/a", { method: "GET" }));
  assert.equal(await response.text(), "local GET /v1/queues/a");
  assert.equal(response.headers.get(leaderHeader), "http://leader:1");
});

Deno.test("a follower relays API requests to the leader with their body", async () => {
  const seen: { url: string; body: string; forwarded: string | null }[] = [];
  const fakeFetch = async (input: string | URL | Request, init?: RequestInit) => {
    const request = new Request(input, init);
    seen.push({
      url: request.url,
      body: await request.text(),
      forwarded: request.headers.get(forwardedHeader),
    });
    return new Response("from leader", { status: 201 });
  };
  const handler = forwardingHandler({
    view: view(false, "http://leader:1"),
    local,
    requestBytesMax: 1024,
    fetch: fakeFetch as typeof fetch,
  });
  const response = await handler(
    new Request("http://me/v1/queues/a/messages?x=1", { method: "POST", body: "{}" }),
  );
  assert.equal(response.status, 201);
  assert.equal(await response.text(), "from leader");
  assert.equal(response.headers.get(leaderHeader), "http://leader:1");
  assert.deepEqual(seen, [{
    url: "http://leader:1/v1/queues/a/messages?x=1",
    body: "{}",
    forwarded: "1",
  }]);
});

Deno.test("a follower answers operations endpoints itself", async () => {
  const handler = forwardingHandler({ view: view(false, null), local, requestBytesMax: 1024 });
  for (const path of ["/healthz", "/readyz", "/metrics", "/v1/cluster", "/openapi.json"]) {
    assert.equal(
      await (await handler(new Request("http://me" + path))).text(),
      `local GET ${path}`,
    );
  }
});

Deno.test("with no leader, or a request that was already forwarded, the answer is 503 NoLeader", async () => {
  const noLeader = forwardingHandler({ view: view(false, null), local, requestBytesMax: 1024 });
  const first = await noLeader(new Request("http://me/v1/queues"));
  assert.equal(first.status, 503);
  assert.equal(first.headers.get("retry-after"), "1");
  assert.equal((await first.json()).error.code, "NoLeader");

  const confused = forwardingHandler({
    view: view(false, "http://other:1"),
    local,
    requestBytesMax: 1024,
    fetch: () => Promise.reject(new Error("must not be called")),
  });
  const second = await confused(
    new Request("http://me/v1/queues", { headers: { [forwardedHeader]: "1" } }),
  );
  assert.equal(second.status, 503);
});

Deno.test("a removed node answers API requests 503 NodeRemoved (no Retry-After), after admission", async () => {
  const why = "this node was removed from the cluster by the configuration change at index 9";
  let admitted = 0;
  const handler = forwardingHandler({
    view: { ...view(false, null), removed: () => why },
    local,
    admit: () => {
      admitted++;
      return Promise.resolve({ body: null });
    },
    requestBytesMax: 1024,
    fetch: () => Promise.reject(new Error("must not be called")),
  });
  const response = await handler(new Request("http://me/v1/queues/a/messages", { method: "POST" }));
  assert.equal(response.status, 503);
  assert.equal(response.headers.get("retry-after"), null);
  assert.deepEqual((await response.json()).error, {
    code: "NodeRemoved",
    message: why,
    requestId: response.headers.get("x-request-id"),
  });
  assert.equal(admitted, 1);
  // Its operations endpoints still answer (they describe it).
  assert.equal(await (await handler(new Request("http://me/readyz"))).text(), "local GET /readyz");
});

Deno.test("an unreachable leader is a retryable 503, not a crash", async () => {
  const handler = forwardingHandler({
    view: view(false, "http://leader:1"),
    local,
    requestBytesMax: 1024,
    fetch: () => Promise.reject(new TypeError("connection refused")),
  });
  const response = await handler(new Request("http://me/v1/queues"));
  assert.equal(response.status, 503);
  assert.match((await response.json()).error.message, /leader unreachable: connection refused/);
});

Deno.test("an unreachable leader's 503 carries the reason an error keeps in its cause, once", async () => {
  const cases = [
    {
      error: new TypeError("fetch failed", {
        cause: new Error("invalid peer certificate: UnknownIssuer"),
      }),
      message: "leader unreachable: fetch failed (invalid peer certificate: UnknownIssuer)",
    },
    {
      // The member fetch's connect errors name their cause already.
      error: new Error("tcp connect error: leader:1: Connection refused", {
        cause: new Error("Connection refused"),
      }),
      message: "leader unreachable: tcp connect error: leader:1: Connection refused",
    },
  ];
  for (const { error, message } of cases) {
    const handler = forwardingHandler({
      view: view(false, "https://leader:1"),
      local,
      requestBytesMax: 1024,
      fetch: () => Promise.reject(error),
    });
    const response = await handler(new Request("http://me/v1/queues"));
    assert.equal(response.status, 503);
    assert.equal((await response.json()).error.message, message);
  }
});

Deno.test("an unreachable leader's 503 says outcomeUnknown unless the connection was never made", async () => {
  // A forward cut after it reached the leader may have been carried out; a refused connect never
  // reached it; a GET changes nothing either way.
  const cases = [
    { error: new TypeError("connection reset by peer"), outcomeUnknown: true },
    { error: new Error("request timed out"), outcomeUnknown: true },
    { error: new Error("tcp connect error: leader:1: Connection refused"), outcomeUnknown: false },
    { error: new TypeError("connection refused"), outcomeUnknown: false },
    { error: new Error("request timed out"), outcomeUnknown: false, method: "GET" },
  ];
  for (const { error, outcomeUnknown, method = "POST" } of cases) {
    const handler = forwardingHandler({
      view: view(false, "http://leader:1"),
      local,
      requestBytesMax: 1024,
      fetch: () => Promise.reject(error),
    });
    const body = method === "GET" ? undefined : "{}";
    const response = await handler(new Request("http://me/v1/queues", { method, body }));
    const answer = (await response.json()).error;
    assert.equal(answer.code, "NoLeader");
    assert.equal(answer.outcomeUnknown === true, outcomeUnknown, answer.message);
  }
});

Deno.test("a forward carries the host the client asked, which the leader restores for its doors", async () => {
  let relayed: Request | undefined;
  const follower = forwardingHandler({
    view: view(false, "http://leader:1"),
    local,
    requestBytesMax: 1024,
    fetch: (input, init) => {
      relayed = new Request(input as string, init);
      return Promise.resolve(new Response("ok"));
    },
  });
  await follower(
    new Request("http://follower.example:7/v1/queues", { headers: { host: "lb:80" } }),
  );
  assert.equal(relayed!.headers.get(forwardedHostHeader), "lb:80");
  assert.equal(relayed!.headers.get(forwardedHeader), "1");
  const seen: (string | null)[] = [];
  const leader = forwardingHandler({
    view: view(true, "http://leader:1"),
    local: (request) => {
      seen.push(request.headers.get("host"), request.headers.get(forwardedHostHeader));
      return new Response("served");
    },
    requestBytesMax: 1024,
  });
  const headers = { host: "leader:1", [forwardedHeader]: "1", [forwardedHostHeader]: "lb:80" };
  await leader(new Request("http://leader:1/v1/queues", { headers }));
  assert.deepEqual(seen, ["lb:80", null]);
  // Without the forwarded mark the header is not taken (a client's own request keeps its Host).
  seen.length = 0;
  await leader(
    new Request("http://leader:1/v1/queues", {
      headers: { host: "leader:1", [forwardedHostHeader]: "lb:80" },
    }),
  );
  assert.deepEqual(seen, ["leader:1", "lb:80"]);
});

Deno.test("a leader change during the admission check answers a retryable 503 that says nothing was sent", async () => {
  let leaderUrl = "http://old-leader:1";
  let changed = () => {};
  const sent: string[] = [];
  const handler = forwardingHandler({
    view: {
      isLeader: () => false,
      leaderUrl: () => leaderUrl,
      onLeaderChange: (listener) => void (changed = listener),
    },
    local,
    // The admission check reads the body (a signature check); the leader changes meanwhile.
    admit: async (request) => {
      const body = new Uint8Array(await request.arrayBuffer());
      leaderUrl = "http://new-leader:1";
      changed();
      return { body };
    },
    requestBytesMax: 1024,
    // Like `fetch` and the member fetch: an aborted signal rejects before anything is sent.
    fetch: ((input: string | URL | Request, init?: RequestInit) => {
      if (init?.signal?.aborted) return Promise.reject(init.signal.reason);
      sent.push(String(input));
      return Promise.resolve(new Response("from leader"));
    }) as typeof fetch,
  });
  const response = await handler(
    new Request("http://me/v1/queues/a/messages", { method: "POST", body: "{}" }),
  );
  assert.equal(response.status, 503);
  const { error } = await response.json();
  assert.equal(error.code, "NoLeader");
  assert.equal(response.headers.get(leaderHeader), "http://new-leader:1");
  assert.deepEqual(sent, [], "nothing reached a leader");
  // The SDK retries a send without dedupId only when the outcome is known.
  assert.equal(error.outcomeUnknown, undefined, "nothing was sent, the outcome is known");
});
