/**
 * Credentials of the CMQ and SQS doors across forwarding, wired as `node.ts` wires them: a
 * follower (the forwarding handler whose admission is its guard's `admitForwarding`) in front of
 * a leader (the app over the real engine, behind its own forwarding handler) on real ports. The
 * follower checks a door request's signature with the door's own code before it relays it, and
 * refuses what the leader would refuse with the leader's answer, in the door's shape.
 */
import assert from "node:assert/strict";
import { type AccessKey, FileKeyRing } from "../auth/mod.ts";
import { AccessGuard, createApp, Metrics } from "../http/mod.ts";
import { FakeStatus } from "../http/testing/mod.ts";
import { CmqTestClient, formEncode } from "../http/cmq_v2/_cmq_test_client.ts";
import { signedForm } from "../http/sqs/_signed_form.ts";
import { forwardingHandler } from "./forwarding.ts";
import { wallClockEngine } from "./testing/mod.ts";

const adminKey: AccessKey = { secretId: "AKIDadmin", secretKey: "admin-secret", allow: ["*"] };
/** What `node.ts` gives the forwarder and the admission: 4 MiB and room for the encoding. */
const forwardBytesMax = 4 * 1024 * 1024 + 256 * 1024;

function guard(keys: AccessKey[] | null): AccessGuard {
  const keyRing = keys === null ? null : FileKeyRing.fromKeys(keys);
  return new AccessGuard({ keyRing, loopbackOnly: false });
}

function serve(handler: (request: Request, info: Deno.ServeHandlerInfo) => Promise<Response>) {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
}

/** A leader and a follower on real ports; `relayed` counts the follower's fetches. */
function pair(keys: AccessKey[] | null = [adminKey]) {
  const { broker } = wallClockEngine();
  const leaderApp = createApp({
    service: broker,
    status: new FakeStatus(),
    metrics: new Metrics(),
    access: guard(keys),
  });
  const leader = serve(forwardingHandler({
    view: { isLeader: () => true, leaderUrl: () => null },
    local: (request, info) => leaderApp.fetch(request, info),
    requestBytesMax: forwardBytesMax,
  }));
  const leaderUrl = `http://127.0.0.1:${leader.addr.port}`;
  let relayed = 0;
  const followerGuard = guard(keys);
  const followerHandler = forwardingHandler({
    view: { isLeader: () => false, leaderUrl: () => leaderUrl },
    local: () => new Response("a follower serves no door request itself", { status: 500 }),
    admit: (request, info) => followerGuard.admitForwarding(request, info, forwardBytesMax),
    requestBytesMax: forwardBytesMax,
    fetch: (input, init) => {
      relayed++;
      return fetch(input, init);
    },
  });
  const follower = serve(followerHandler);
  return {
    leaderUrl,
    followerUrl: `http://127.0.0.1:${follower.addr.port}`,
    followerHandler,
    relayed: () => relayed,
    [Symbol.asyncDispose]: async () => {
      await follower.shutdown();
      await leader.shutdown();
      await leaderApp.close();
    },
  };
}

/** The same request sent to `url`'s node. */
async function send(url: string, path: string, init: RequestInit) {
  const response = await fetch(url + path, init);
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/** An answer without what differs between two answers of the same refusal: the request ids. */
function withoutRequestId(text: string): string {
  return text.replace(/"requestId":"[^"]*"/, "").replace(/<RequestId>[^<]*<\/RequestId>/, "");
}

Deno.test("a follower refuses an unsigned or garbled CMQ request itself, as the leader does", async () => {
  await using cluster = pair();
  const client = new CmqTestClient({
    handler: () => Promise.reject(new Error("not sent")),
    credentials: adminKey,
  });
  const garbled = client.signedParams("CreateQueue", { queueName: "jobs" }, {
    signingKey: "not-the-secret",
  });
  const cases: [string, RequestInit, string][] = [
    ["/v2/index.php", { method: "POST", body: "Action=CreateQueue&queueName=jobs" }, "no SecretId"],
    ["/v2/index.php?Action=ListQueue", { method: "GET" }, "no SecretId"],
    ["/v2/index.php", { method: "POST", body: formEncode(garbled) }, "Signature does not match"],
  ];
  for (const [path, init, reason] of cases) {
    const follower = await send(cluster.followerUrl, path, init);
    const leader = await send(cluster.leaderUrl, path, init);
    assert.equal(follower.status, 200);
    const body = JSON.parse(follower.text);
    assert.equal(body.code, 4100, follower.text);
    assert.match(body.message, new RegExp(reason));
    assert.equal(follower.headers.get("x-request-id"), body.requestId);
    assert.equal(follower.headers.get("x-cmqd-leader"), cluster.leaderUrl);
    // The leader's answer but for the host signed ("…signed as POST<host>…") and the request id.
    const hostless = (text: string) => withoutRequestId(text).replace(/127\.0\.0\.1:\d+/, "");
    assert.equal(hostless(follower.text), hostless(leader.text));
  }
  assert.equal(cluster.relayed(), 0, "nothing was relayed");
});

Deno.test("a signed CMQ request through a follower is relayed and served", async () => {
  await using cluster = pair();
  const host = new URL(cluster.followerUrl).host;
  for (const httpMethod of ["POST", "GET"] as const) {
    const client = new CmqTestClient({
      handler: async (request) => {
        const url = new URL(request.url);
        const body = request.method === "POST" ? await request.text() : undefined;
        return await fetch(cluster.followerUrl + url.pathname + url.search, {
          method: request.method,
          body,
        });
      },
      host,
      credentials: adminKey,
      httpMethod,
    });
    const reply = await client.call("CreateQueue", { queueName: `jobs${httpMethod}` });
    assert.equal(reply.body.code, 0, JSON.stringify(reply.body));
  }
  assert.equal(cluster.relayed(), 2);
});

/** A POST whose body never ends: `pulled()` tells how many 64 KiB chunks were read from it. */
function endless(url: string, headers: Record<string, string>) {
  let pulled = 0;
  const chunk = new Uint8Array(64 * 1024).fill("a".charCodeAt(0));
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled++;
      controller.enqueue(chunk);
    },
  });
  const request = new Request(url, { method: "POST", headers, body });
  return { request, pulled: () => pulled };
}

Deno.test("a follower reads an unsigned SQS body no further than the headers' check", async () => {
  await using cluster = pair();
  for (
    const headers of [
      <Record<string, string>> {
        "x-amz-target": "AmazonSQS.ListQueues",
        "content-type": "application/x-amz-json-1.0",
      },
      { "content-type": "application/x-www-form-urlencoded" },
    ]
  ) {
    const sent = endless("http://follower.example/", headers);
    const response = await cluster.followerHandler(sent.request);
    assert.equal(response.status, 403);
    assert.match(await response.text(), /MissingAuthenticationToken/);
    assert.ok(sent.pulled() <= 2, `${sent.pulled()} chunks read`);
  }
  assert.equal(cluster.relayed(), 0);
});

Deno.test("a follower reads an unsigned CMQ body up to the door's bound and answers as the door", async () => {
  await using cluster = pair();
  const sent = endless("http://follower.example/v2/index.php", {});
  const response = await cluster.followerHandler(sent.request);
  assert.equal(response.status, 200);
  const body = await response.json();
  assert.equal(body.code, 4000, JSON.stringify(body));
  assert.match(body.message, /out of range/);
  assert.ok(sent.pulled() * 64 * 1024 <= forwardBytesMax + 2 * 64 * 1024, `${sent.pulled()}`);
  assert.equal(cluster.relayed(), 0);
});

const jsonHeaders = (operation: string) => ({
  "x-amz-target": `AmazonSQS.${operation}`,
  "content-type": "application/x-amz-json-1.0",
});

Deno.test("a follower refuses an unsigned or garbled SQS request itself, as the leader does", async () => {
  await using cluster = pair();
  const garbledAuthorization = "AWS4-HMAC-SHA256 Credential=AKIDadmin/20200101/eu-west-1/sqs/" +
    "aws4_request, SignedHeaders=host;x-amz-date, Signature=00";
  const cases: [RequestInit, number, RegExp][] = [
    [{ method: "POST", headers: jsonHeaders("ListQueues"), body: "{}" }, 403, /MissingAuth/],
    [
      {
        method: "POST",
        headers: { ...jsonHeaders("ListQueues"), authorization: garbledAuthorization },
        body: "{}",
      },
      400,
      /SignatureDoesNotMatch|IncompleteSignature|RequestExpired/,
    ],
    [
      {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "Action=ListQueues",
      },
      403,
      /<Code>MissingAuthenticationToken<\/Code>/,
    ],
    [{ method: "GET" }, 403, /<Code>MissingAuthenticationToken<\/Code>/],
  ];
  for (const [init, status, pattern] of cases) {
    const path = init.method === "GET" ? "/?Action=ListQueues" : "/";
    const follower = await send(cluster.followerUrl, path, init);
    const leader = await send(cluster.leaderUrl, path, init);
    assert.equal(follower.status, status, follower.text);
    assert.match(follower.text, pattern);
    assert.equal(withoutRequestId(follower.text), withoutRequestId(leader.text));
    assert.equal(follower.headers.get("content-type"), leader.headers.get("content-type"));
    assert.equal(follower.headers.get("x-cmqd-leader"), cluster.leaderUrl);
  }
  assert.equal(cluster.relayed(), 0, "nothing was relayed");
});

Deno.test("signed SQS requests through a follower are relayed and served, both protocols", async () => {
  await using cluster = pair();
  const created = await signedForm(cluster.followerUrl, adminKey, {
    body: '{"QueueName":"orders"}',
    headers: jsonHeaders("CreateQueue"),
  });
  assert.equal(created.status, 200, created.text);
  assert.equal(
    JSON.parse(created.text).QueueUrl,
    `${cluster.followerUrl}/000000000000/orders`,
  );
  const listed = await signedForm(cluster.followerUrl, adminKey, { body: "Action=ListQueues" });
  assert.equal(listed.status, 200, listed.text);
  assert.match(listed.text, /\/000000000000\/orders</);
  assert.equal(cluster.relayed(), 2);
});

Deno.test("a signed SQS query body over 4.25 MiB reaches the leader through a follower", async () => {
  for (const keys of [[adminKey], null]) {
    await using cluster = pair(keys);
    const sign = (body: string) => signedForm(cluster.followerUrl, adminKey, { body });
    assert.equal((await sign("Action=CreateQueue&QueueName=big")).status, 200);
    // Three messages of 1 MB of text (a batch may hold 4 MiB), 9 MB once percent-encoded:
    // within the query protocol's 12 MiB + 256 KiB, past what a v1 or JSON body may hold.
    const entries: [string, string][] = [1, 2, 3].flatMap((n) => [
      [`SendMessageBatchRequestEntry.${n}.Id`, `m${n}`],
      [`SendMessageBatchRequestEntry.${n}.MessageBody`, "é".repeat(500_000)],
    ]);
    const body = formEncode([
      ["Action", "SendMessageBatch"],
      ["QueueUrl", `${cluster.followerUrl}/000000000000/big`],
      ...entries,
    ]);
    assert.ok(body.length > forwardBytesMax * 2);
    const sent = await sign(body);
    assert.equal(sent.status, 200, sent.text.slice(0, 300));
    assert.equal(sent.text.match(/<MessageId>/g)?.length, 3, sent.text.slice(0, 300));
  }
});

Deno.test("a path no door serves is answered by the follower itself, its body unread, nothing relayed", async () => {
  for (const keys of [[adminKey], null]) {
    const followerGuard = guard(keys);
    let relayed = 0;
    const served: string[] = [];
    const follower = forwardingHandler({
      view: { isLeader: () => false, leaderUrl: () => "http://127.0.0.1:1" },
      local: (request) => {
        served.push(new URL(request.url).pathname);
        return new Response("not found here", { status: 404 });
      },
      admit: (request, info) => followerGuard.admitForwarding(request, info, forwardBytesMax),
      requestBytesMax: forwardBytesMax,
      fetch: () => {
        relayed++;
        return Promise.resolve(new Response("relayed"));
      },
    });
    const sent = endless("http://follower.example/elsewhere", {});
    const response = await follower(sent.request);
    assert.equal(response.status, 404);
    await response.body?.cancel();
    assert.deepEqual(served, ["/elsewhere"]);
    assert.equal(relayed, 0);
    assert.ok(sent.pulled() <= 1, `${sent.pulled()} chunks read`); // a stream pulls one at once
  }
});
