import assert from "node:assert/strict";
import type { ClusterInfo, JoinRequest } from "../../sdk/protocol.ts";
import { BrokerError } from "../engine/mod.ts";
import { ClusterRequestDoor, signClusterRequest } from "./cluster_request_auth.ts";
import { manualBudget, streamedRequest, trickle, until } from "../http/_body_timers.ts";

const key = new TextEncoder().encode("c".repeat(64));
const otherKey = new TextEncoder().encode("d".repeat(64));
const nowMs = 1_700_000_000_000;
const info = { nodeId: "n1", bootstrapVoters: ["n1", "n2", "n3"] } as unknown as ClusterInfo;
const join: JoinRequest = {
  id: "n4",
  peerAddress: "10.0.0.4:9877",
  clientUrl: "http://10.0.0.4:9876",
};

function setup() {
  const joins: JoinRequest[] = [];
  const door = new ClusterRequestDoor(key, {
    cluster: () => info,
    join: (request) => {
      joins.push(request);
      if (request.clientUrl === "http://busy") {
        return Promise.reject(new BrokerError("NoLeader", "electing", { retryAfterSeconds: 1 }));
      }
      return Promise.resolve(info);
    },
  }, { now: () => nowMs });
  const next = (request: Request) =>
    Promise.resolve(new Response(`app ${new URL(request.url).pathname}`));
  const call = (request: Request) => door.handle(request, next);
  return { joins, call, door };
}

function signed(
  method: "GET" | "POST",
  path: string,
  options: { body?: string; signKey?: Uint8Array; node?: string; nonce?: string; at?: number } = {},
): Request {
  const body = options.body ?? "";
  const authorization = signClusterRequest(options.signKey ?? key, options.node ?? "n4", {
    method,
    path,
    body: new TextEncoder().encode(body),
  }, { nowMs: options.at ?? nowMs, nonce: options.nonce });
  return new Request(`http://member${path}`, {
    method,
    headers: { authorization, "content-type": "application/json" },
    body: method === "GET" ? undefined : body,
  });
}

async function errorOf(
  response: Response,
): Promise<{ status: number; code: string; message: string }> {
  const body = await response.json();
  return { status: response.status, code: body.error.code, message: body.error.message };
}

Deno.test("a request signed with the cluster key gets the cluster view and can join", async () => {
  const { joins, call } = setup();
  const view = await call(signed("GET", "/v1/cluster"));
  assert.equal(view.status, 200);
  assert.deepEqual(await view.json(), info);
  const joined = await call(signed("POST", "/v1/cluster/nodes", { body: JSON.stringify(join) }));
  assert.equal(joined.status, 200);
  assert.deepEqual(joins, [join]);
});

Deno.test("requests without the cluster scheme go on to the app untouched", async () => {
  const { call } = setup();
  const response = await call(new Request("http://member/v1/cluster"));
  assert.equal(await response.text(), "app /v1/cluster");
  const bearer = await call(
    new Request("http://member/v1/cluster", { headers: { authorization: "Bearer a:b" } }),
  );
  assert.equal(await bearer.text(), "app /v1/cluster");
});

Deno.test("a wrong key, a tampered body, a replay or a stale timestamp is 401 and joins nothing", async (t) => {
  const { joins, call } = setup();
  const body = JSON.stringify(join);
  const cases: Record<string, [() => Request, RegExp]> = {
    "another cluster's key": [
      () => signed("POST", "/v1/cluster/nodes", { body, signKey: otherKey }),
      /does not match this cluster's key/,
    ],
    "a body changed after signing": [() => {
      const original = signed("POST", "/v1/cluster/nodes", { body });
      return new Request(original.url, {
        method: "POST",
        headers: original.headers,
        body: body.replace("10.0.0.4", "6.6.6.6"),
      });
    }, /does not match/],
    "a timestamp 301 s old": [
      () => signed("GET", "/v1/cluster", { at: nowMs - 301_000 }),
      /Timestamp is 301 s from this node's clock/,
    ],
    "a malformed header": [
      () =>
        new Request("http://member/v1/cluster", {
          headers: { authorization: "CMQD-CLUSTER-HMAC-SHA256 Node=n4" },
        }),
      /malformed/,
    ],
    "a short nonce": [() => signed("GET", "/v1/cluster", { nonce: "abc" }), /Nonce must be/],
    "a path other than the join's": [
      () => signed("POST", "/v1/queues/x/messages", { body: "{}" }),
      /signs joins only, not POST \/v1\/queues\/x\/messages/,
    ],
  };
  for (const [name, [request, message]] of Object.entries(cases)) {
    await t.step(name, async () => {
      const error = await errorOf(await call(request()));
      assert.equal(error.status, 401);
      assert.equal(error.code, "Unauthenticated");
      assert.match(error.message, message);
    });
  }
  await t.step("the same signed request twice", async () => {
    const first = signed("GET", "/v1/cluster", { nonce: "replayed-nonce-0001" });
    assert.equal((await call(first)).status, 200);
    const again = signed("GET", "/v1/cluster", { nonce: "replayed-nonce-0001" });
    const error = await errorOf(await call(again));
    assert.equal(error.status, 401);
    assert.match(error.message, /Nonce was used already/);
  });
  assert.deepEqual(joins, []);
});

Deno.test("a join must ask for the node that signed it; its fields are strict", async () => {
  const { joins, call } = setup();
  const other = await errorOf(
    await call(
      signed("POST", "/v1/cluster/nodes", { body: JSON.stringify({ ...join, id: "n5" }) }),
    ),
  );
  assert.deepEqual([other.status, other.code], [400, "InvalidParameter"]);
  assert.match(other.message, /signed by n4 must ask for n4/);
  const extra = await errorOf(
    await call(
      signed("POST", "/v1/cluster/nodes", { body: JSON.stringify({ ...join, voter: true }) }),
    ),
  );
  assert.match(extra.message, /unknown field 'voter'/);
  const garbage = await errorOf(await call(signed("POST", "/v1/cluster/nodes", { body: "{" })));
  assert.deepEqual([garbage.status, garbage.code], [400, "MalformedRequest"]);
  assert.deepEqual(joins, []);
});

Deno.test("a refusal of the membership change keeps its status and Retry-After", async () => {
  const { call } = setup();
  const response = await call(
    signed("POST", "/v1/cluster/nodes", {
      body: JSON.stringify({ ...join, clientUrl: "http://busy" }),
    }),
  );
  assert.equal(response.status, 503);
  assert.equal(response.headers.get("retry-after"), "1");
  assert.equal((await response.json()).error.code, "NoLeader");
});

Deno.test("a follower checks a signed join before relaying it, and sends on the body it read", async () => {
  const { door } = setup();
  const body = JSON.stringify(join);
  const admitted = await door.admitForwarding(signed("POST", "/v1/cluster/nodes", { body }));
  assert.ok("body" in admitted);
  assert.equal(new TextDecoder().decode(admitted.body), body);
  const refused = await door.admitForwarding(
    signed("POST", "/v1/cluster/nodes", { body, signKey: otherKey }),
  );
  assert.ok("refusal" in refused);
  assert.equal(refused.refusal.status, 401);
  assert.equal(ClusterRequestDoor.claims(new Request("http://member/v1/cluster")), false);
});

Deno.test("a signed-scheme body without a content-length is read only up to the limit", async (t) => {
  // A stranger needs no key to claim the scheme: its body was read whole before its size was
  // checked, so a chunked upload of any size was held in memory.
  for (const path of ["leader", "follower"] as const) {
    await t.step(path, async () => {
      const { door, call, joins } = setup();
      const chunkBytes = 16 * 1024;
      let pulled = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (pulled === 64) return controller.close(); // 1 MiB in all
          pulled++;
          controller.enqueue(new Uint8Array(chunkBytes));
        },
      });
      const request = new Request("http://node/v1/cluster/nodes", {
        method: "POST",
        body,
        headers: { authorization: "CMQD-CLUSTER-HMAC-SHA256 Node=n4" },
      });
      assert.equal(request.headers.get("content-length"), null, "sent without a length");
      const response = path === "leader"
        ? await call(request)
        : (await door.admitForwarding(request) as { refusal: Response }).refusal;
      assert.equal(response.status, 413);
      assert.equal((await response.json()).error.code, "RequestTooLarge");
      assert.ok(
        pulled <= 3,
        `${pulled} chunks of ${chunkBytes} bytes were read for a 16 KiB limit`,
      );
      assert.deepEqual(joins, []);
    });
  }
});

Deno.test("a copied join request is refused all through its window, and after a clock step back", async () => {
  let clockMs = nowMs;
  const door = new ClusterRequestDoor(key, {
    cluster: () => info,
    join: () => Promise.resolve(info),
  }, { now: () => clockMs });
  const call = (request: Request) =>
    door.handle(request, () => Promise.resolve(new Response("app")));
  const copy = () => signed("GET", "/v1/cluster", { nonce: "captured-nonce-0001" });
  assert.equal((await call(copy())).status, 200);
  for (const afterMs of [1_000, 150_000, 300_000]) {
    clockMs = nowMs + afterMs;
    assert.match((await errorOf(await call(copy()))).message, /Nonce was used already/);
  }
  clockMs = nowMs + 300_001;
  assert.match((await errorOf(await call(copy()))).message, /Timestamp is 300 s from/);
  // Another request moves the replay cache past the copy's second; then the clock steps back
  // 30 s: the timestamp check passes, the forgotten pair is refused, not taken as new.
  clockMs = nowMs + 320_000;
  const tick = signed("GET", "/v1/cluster", { nonce: "tick-nonce-000001", at: clockMs });
  assert.equal((await call(tick)).status, 200);
  clockMs = nowMs + 290_000;
  const error = await errorOf(await call(copy()));
  assert.equal(error.status, 401);
  assert.match(error.message, /Timestamp is outside the replay window/);
});

Deno.test("a join's body is read within the node's budget: 503 when full, 408 when it stalls, none kept", async () => {
  const { bodies, timers } = manualBudget({ bytesMax: 1000 });
  const joins: JoinRequest[] = [];
  const door = new ClusterRequestDoor(key, {
    cluster: () => info,
    join: (request) => Promise.resolve(void joins.push(request)).then(() => info),
  }, { now: () => nowMs, bodies });
  const next = () => Promise.resolve(new Response("app"));
  // A stranger claims the scheme (no key is needed to claim it) and trickles its body.
  const claimed = (stream: ReadableStream<Uint8Array>, declared?: number) =>
    streamedRequest("http://member/v1/cluster/nodes", stream, {
      authorization: signed("POST", "/v1/cluster/nodes").headers.get("authorization")!,
    }, declared);
  const slow = trickle();
  const held = door.handle(claimed(slow.stream, 900), next);
  // Was: read outside the budget, with no stall timeout, for as long as the connection stayed.
  await until(() => bodies.reservedBytes === 900, "the join body's reservation");
  const refused = claimed(trickle().stream, 200);
  const busy = await door.handle(refused, next);
  assert.equal(busy.status, 503);
  assert.equal(busy.headers.get("retry-after"), "1");
  assert.equal((await busy.json()).error.code, "NotReady");
  assert.equal(refused.bodyUsed, false);
  const forwarded = await door.admitForwarding(claimed(trickle().stream, 200));
  assert.equal(("refusal" in forwarded ? forwarded.refusal : new Response()).status, 503);
  slow.send(10);
  timers.tick(3);
  const stalled = await held;
  assert.equal(stalled.status, 408);
  assert.equal((await stalled.json()).error.code, "RequestTimeout");
  assert.equal(bodies.reservedBytes, 0);
  // A real join still goes through it, and gives its reservation back.
  const joined = await door.handle(
    signed("POST", "/v1/cluster/nodes", { body: JSON.stringify(join) }),
    next,
  );
  assert.equal(joined.status, 200);
  assert.deepEqual(joins, [join]);
  assert.equal(bodies.reservedBytes, 0);
  assert.equal(bodies.readingCount, 0);
});
