/**
 * A follower's forwards in flight are shared fairly between access keys: the relayed requests of
 * one key hold at most `forwardsKeyShare` of `forwardsInFlightMax` (0.8 by default), so one key's
 * long polls relayed to the leader (each held up to its wait) can't take every place and leave
 * the other keys' requests refused 503 `NotReady`. The key is the one the admission check
 * verified (`keyId`), for every door.
 */
import assert from "node:assert/strict";
import { type AccessKey, FileKeyRing } from "../auth/mod.ts";
import { AccessGuard } from "../http/mod.ts";
import { CmqTestClient } from "../http/cmq_v2/_cmq_test_client.ts";
import { signedForm } from "../http/sqs/_signed_form.ts";
import { forwardingHandler } from "./forwarding.ts";

/** A follower whose admission names the key of the `x-key` header; the leader never answers. */
function follower(options: { forwardsInFlightMax: number; forwardsKeyShare?: number }) {
  const never = Promise.withResolvers<Response>();
  const relayed: string[] = [];
  const handler = forwardingHandler({
    view: { isLeader: () => false, leaderUrl: () => "http://leader:1" },
    local: () => new Response("local"),
    admit: (request) => {
      const keyId = request.headers.get("x-key") ?? undefined;
      return Promise.resolve(keyId === undefined ? { body: null } : { body: null, keyId });
    },
    requestBytesMax: 1024,
    ...options,
    fetch: ((_url: string, init: RequestInit) => {
      relayed.push(new Headers(init.headers).get("x-key") ?? "none");
      return never.promise;
    }) as typeof fetch,
  });
  const request = (key?: string) =>
    handler(
      new Request("http://me/v1/queues/a", {
        method: "GET",
        headers: key === undefined ? {} : { "x-key": key },
      }),
    );
  return { request, relayed, release: () => never.resolve(new Response("ok")) };
}

/** Lets the forwards started run up to their fetch. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("one key's forwards hold at most its share of forwardsInFlightMax; past it 503 NotReady while other keys are relayed", async () => {
  const { request, relayed, release } = follower({ forwardsInFlightMax: 4, forwardsKeyShare: 0.5 });
  const held = [request("A"), request("A")];
  await settle();
  const past = await request("A");
  assert.equal(past.status, 503);
  assert.equal(past.headers.get("retry-after"), "1");
  const { error } = await past.json();
  assert.equal(error.code, "NotReady");
  assert.match(error.message, /key 'A' already has 2 requests in flight to the leader/);
  assert.deepEqual(relayed, ["A", "A"], "the one past the share never reaches the leader");
  held.push(request("B"), request("B"));
  await settle();
  assert.deepEqual(relayed, ["A", "A", "B", "B"]);
  // The bound of the node still holds for everyone.
  assert.equal((await request("C")).status, 503);
  release();
  for (const response of await Promise.all(held)) assert.equal(response.status, 200);
  // Once A's forwards are answered, A is relayed again.
  assert.equal((await request("A")).status, 200);
});

Deno.test("requests without a key (no credentials) are relayed up to forwardsInFlightMax; by default a key holds 80 %", async () => {
  const open = follower({ forwardsInFlightMax: 4, forwardsKeyShare: 0.5 });
  const held = [1, 2, 3, 4].map(() => open.request());
  await settle();
  assert.equal(open.relayed.length, 4);
  assert.equal((await open.request()).status, 503);
  open.release();
  await Promise.all(held);

  const keyed = follower({ forwardsInFlightMax: 10 });
  const byA = Array.from({ length: 8 }, () => keyed.request("A"));
  await settle();
  assert.equal((await keyed.request("A")).status, 503);
  byA.push(keyed.request("B"));
  await settle();
  assert.equal(keyed.relayed.length, 9);
  keyed.release();
  await Promise.all(byA);
});

Deno.test("a forwards key share outside (0, 1] is refused", () => {
  for (const share of [0, 1.5, NaN]) {
    assert.throws(() => follower({ forwardsInFlightMax: 4, forwardsKeyShare: share }), RangeError);
  }
});

const alice: AccessKey = { secretId: "AKIDalice", secretKey: "alice-secret", allow: ["*"] };
const forwardBytesMax = 1 << 20;

function guard(): AccessGuard {
  return new AccessGuard({ keyRing: FileKeyRing.fromKeys([alice]), loopbackOnly: false });
}

Deno.test("the follower's admission names the key of a v1 request", async () => {
  const admission = await guard().admitForwarding(
    new Request("http://me/v1/queues/a/messages/receive", {
      method: "POST",
      headers: {
        authorization: `Bearer ${alice.secretId}:${alice.secretKey}`,
        "content-type": "application/json",
      },
      body: '{"waitSeconds": 20}',
    }),
    undefined,
    forwardBytesMax,
  );
  assert.equal(admission.refusal, undefined);
  assert.equal((admission as { keyId?: string }).keyId, "AKIDalice");
  const open = await new AccessGuard({ keyRing: null, loopbackOnly: false }).admitForwarding(
    new Request("http://me/v1/queues/a", { method: "GET" }),
    undefined,
    forwardBytesMax,
  );
  assert.equal((open as { keyId?: string }).keyId, undefined);
});

Deno.test("the follower's admission names the key of a CMQ request", async () => {
  const access = guard();
  const admissions: unknown[] = [];
  const client = new CmqTestClient({
    handler: async (request) => {
      admissions.push(await access.admitForwarding(request, undefined, forwardBytesMax));
      return Response.json({ code: 0, message: "", requestId: "r" });
    },
    credentials: alice,
  });
  await client.call("ReceiveMessage", { queueName: "a", pollingWaitSeconds: 20 });
  assert.equal(admissions.length, 1);
  const [admission] = admissions as { refusal?: Response; keyId?: string }[];
  assert.equal(admission.refusal, undefined);
  assert.equal(admission.keyId, "AKIDalice");
});

Deno.test("the follower's admission names the key of an SQS request", async () => {
  const access = guard();
  const admissions: { refusal?: Response; keyId?: string }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (r) => {
    admissions.push(await access.admitForwarding(r, undefined, forwardBytesMax));
    return Response.json({});
  });
  try {
    const endpoint = `http://127.0.0.1:${server.addr.port}`;
    await signedForm(endpoint, alice, {
      headers: {
        "x-amz-target": "AmazonSQS.ReceiveMessage",
        "content-type": "application/x-amz-json-1.0",
      },
      body: JSON.stringify({ QueueUrl: `${endpoint}/000000000000/a`, WaitTimeSeconds: 20 }),
    });
    await signedForm(endpoint, alice, {
      body: `Action=ReceiveMessage&QueueUrl=${endpoint}/000000000000/a&WaitTimeSeconds=20`,
    });
  } finally {
    await server.shutdown();
  }
  assert.deepEqual(admissions.map((admission) => admission.refusal), [undefined, undefined]);
  assert.deepEqual(admissions.map((admission) => admission.keyId), ["AKIDalice", "AKIDalice"]);
});
