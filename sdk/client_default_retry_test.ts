/**
 * The client's default retries against a leader election, on a fake clock (the waits the client
 * asks of its `sleep` add up to the time that passed): the leader's connection is refused, the
 * followers answer `503 NoLeader` (`Retry-After: 1`) until a new leader is elected, about 3 s
 * later. With the defaults every call rides that out; with a cluster down for good the call
 * fails once the retry budget (10 s) is spent, not later. An `attemptsMax` set by hand still
 * bounds the retries by count alone, as before the budget.
 */
import assert from "node:assert/strict";
import { CmqdClient, CmqdError, retryDefaults, TransportError } from "./mod.ts";
import type { HttpRequest, HttpResponse, HttpTransport } from "./transport.ts";
import type { RetryOptions } from "./retry.ts";

const nodes = ["http://a:8080", "http://b:8080", "http://c:8080"];

function answer(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return {
    status,
    header: (name) => headers[name.toLowerCase()] ?? null,
    text: () => Promise.resolve(JSON.stringify(body)),
  };
}

const refused = () =>
  new TransportError("connect failed", {
    cause: Object.assign(new Error("connection refused"), { code: "ECONNREFUSED" }),
  });

/**
 * Three nodes on a fake clock: `a` leads until `outage()`; then `a` refuses connections and the
 * others answer `NoLeader` until `electionMs` of fake time has passed (forever when Infinity),
 * after which `b` leads.
 */
function fakeCluster(electionMs: number, retry?: Partial<RetryOptions>) {
  let nowMs = 0;
  let outageAt: number | undefined;
  const requests: string[] = [];
  const transport: HttpTransport = {
    request(request: HttpRequest): Promise<HttpResponse> {
      const node = new URL(request.url).origin;
      requests.push(`${nowMs} ${request.method} ${node}`);
      const leader = outageAt === undefined
        ? nodes[0]
        : nowMs - outageAt >= electionMs
        ? nodes[1]
        : undefined;
      if (outageAt !== undefined && node === nodes[0]) return Promise.reject(refused());
      if (leader === undefined) {
        return Promise.resolve(answer(503, {
          error: { code: "NoLeader", message: "no leader yet", requestId: "r" },
        }, { "retry-after": "1" }));
      }
      const body = request.method === "POST" ? { messages: [{ id: "m1", sequence: 1 }] } : {
        name: "orders",
      };
      return Promise.resolve(answer(200, body, { "x-cmqd-leader": leader }));
    },
  };
  const client = new CmqdClient({
    baseUrl: nodes,
    transport,
    retry,
    sleep: (ms) => {
      nowMs += ms;
      return Promise.resolve();
    },
  });
  return {
    client,
    requests,
    get nowMs() {
      return nowMs;
    },
    outage() {
      outageAt = nowMs;
    },
  };
}

Deno.test("the default retries ride out an election: refused, then NoLeader for 3 s, then a leader", async (t) => {
  const calls: [string, (client: CmqdClient) => Promise<unknown>][] = [
    ["a read", (client) => client.getQueue("orders")],
    [
      "a send with dedupIds",
      (client) => client.sendMessages("orders", [{ body: "x", dedupId: "1" }]),
    ],
    ["a send without dedupIds", (client) => client.sendMessages("orders", [{ body: "x" }])],
  ];
  for (const [name, call] of calls) {
    await t.step(name, async () => {
      const cluster = fakeCluster(3_000);
      await cluster.client.getQueue("orders"); // the client learns that `a` leads
      assert.equal(cluster.client.leaderUrl, nodes[0]);
      cluster.outage();
      await call(cluster.client);
      assert.equal(cluster.client.leaderUrl, nodes[1], cluster.requests.join("\n"));
      assert.ok(cluster.nowMs >= 3_000);
      cluster.client.close();
    });
  }
});

Deno.test("the default retries give up on a cluster down for good within the 10 s budget", async (t) => {
  await t.step("no leader is ever elected", async () => {
    const cluster = fakeCluster(Infinity);
    cluster.outage();
    // `a` refuses, `b` and `c` answer NoLeader for good (a quorum lost).
    const error = await cluster.client.getQueue("orders").catch((caught) => caught);
    assert.ok(error instanceof CmqdError);
    assert.equal(error.code, "NoLeader");
    assert.ok(cluster.nowMs <= retryDefaults.budgetMs, `waited ${cluster.nowMs} ms`);
    // It did wait for most of the budget: a retry whose wait would end past it is not made.
    assert.ok(cluster.nowMs >= retryDefaults.budgetMs - 2_000, `waited ${cluster.nowMs} ms`);
    cluster.client.close();
  });
  await t.step("every node's connection is refused", async () => {
    let waitedMs = 0;
    let attempts = 0;
    const client = new CmqdClient({
      baseUrl: nodes,
      transport: {
        request: () => {
          attempts++;
          return Promise.reject(refused());
        },
      },
      sleep: (ms) => {
        waitedMs += ms;
        return Promise.resolve();
      },
    });
    const error = await client.getQueue("orders").catch((caught) => caught);
    assert.equal(error.code, "NetworkError");
    assert.ok(waitedMs <= retryDefaults.budgetMs, `waited ${waitedMs} ms`);
    assert.ok(waitedMs >= retryDefaults.budgetMs - 2_000, `waited ${waitedMs} ms`);
    // Each round of three refusals is followed by a back-off: no spin.
    assert.ok(attempts < 100, `${attempts} attempts`);
    client.close();
  });
});

Deno.test("a Retry-After that would end past the budget ends the call at once", async () => {
  let attempts = 0;
  const sleeps: number[] = [];
  const client = new CmqdClient({
    baseUrl: nodes[0],
    transport: {
      request: () => {
        attempts++;
        return Promise.resolve(answer(503, {
          error: { code: "NoLeader", message: "no leader yet", requestId: "r" },
        }, { "retry-after": "30" }));
      },
    },
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
  });
  const error = await client.getQueue("orders").catch((caught) => caught);
  assert.equal(error.code, "NoLeader");
  assert.equal(error.retryAfterSeconds, 30);
  assert.equal(attempts, 1);
  assert.deepEqual(sleeps, []);
  client.close();
});

Deno.test("an attemptsMax set by hand bounds retries by count, with no time budget", async () => {
  const cluster = fakeCluster(Infinity, { attemptsMax: 20 });
  cluster.outage();
  const error = await cluster.client.getQueue("orders").catch((caught) => caught);
  assert.equal(error.code, "NoLeader");
  assert.equal(cluster.requests.length, 20);
  assert.ok(cluster.nowMs > retryDefaults.budgetMs, `waited ${cluster.nowMs} ms`);
  cluster.client.close();
});

Deno.test("retry.budgetMs bounds the retries in time, also alongside attemptsMax", async () => {
  for (const retry of [{ budgetMs: 4_000 }, { budgetMs: 4_000, attemptsMax: 100 }]) {
    const cluster = fakeCluster(Infinity, retry);
    cluster.outage();
    const error = await cluster.client.getQueue("orders").catch((caught) => caught);
    assert.equal(error.code, "NoLeader");
    assert.ok(cluster.nowMs <= 4_000 && cluster.nowMs >= 2_000, `waited ${cluster.nowMs} ms`);
    cluster.client.close();
  }
  // The smaller bound wins.
  const cluster = fakeCluster(Infinity, { budgetMs: 60_000, attemptsMax: 3 });
  cluster.outage();
  await cluster.client.getQueue("orders").catch(() => {});
  assert.equal(cluster.requests.length, 3);
  cluster.client.close();
});

Deno.test("a bad retry.budgetMs throws when the client is built", () => {
  for (const bad of [-1, NaN]) {
    assert.throws(
      () => new CmqdClient({ baseUrl: nodes, retry: { budgetMs: bad } }),
      (error: Error) => error instanceof RangeError && error.message.includes("retry.budgetMs"),
    );
  }
  assert.throws(
    () => new CmqdClient({ baseUrl: nodes, retry: { budgetMs: "10000" as unknown as number } }),
    (error: Error) => error instanceof TypeError && error.message.includes("retry.budgetMs"),
  );
  new CmqdClient({ baseUrl: nodes, retry: { budgetMs: 0 } }).close();
  new CmqdClient({ baseUrl: nodes, retry: { budgetMs: Infinity } }).close();
});

Deno.test("an attempt the budget leaves no retry after is not abandoned for a late head while its node is alive", async () => {
  // `a` answers NoLeader (Retry-After: 1), then holds the read 800 ms, past its 300 ms head
  // timeout, while its `/healthz` answers at once. The wait of 1 s leaves about 150 ms of the
  // budget (1.15 s): a retry after the head timeout would start past it, so moving on then would
  // end the call with `Timeout`, with no retry to go anywhere; the live node is waited for.
  const seen: string[] = [];
  let reads = 0;
  const client = new CmqdClient({
    baseUrl: nodes.slice(0, 2),
    headTimeoutMs: 300,
    retry: { budgetMs: 1_150 },
    transport: {
      request: async (request) => {
        const path = new URL(request.url).pathname;
        seen.push(`${request.method} ${new URL(request.url).host}${path}`);
        if (path === "/healthz") return answer(200, { status: "ok" });
        if (++reads === 1) {
          return answer(503, {
            error: { code: "NoLeader", message: "no leader yet", requestId: "r" },
          }, { "retry-after": "1" });
        }
        await new Promise((resolve) => setTimeout(resolve, 800));
        if (request.signal?.aborted) throw new TransportError("aborted");
        return answer(200, { name: "orders" });
      },
    },
    sleep: () => Promise.resolve(),
  });
  assert.deepEqual(await client.getQueue("orders"), { name: "orders" }, seen.join("\n"));
  assert.ok(seen.includes("GET a:8080/healthz"), seen.join("\n"));
  client.close();
});
