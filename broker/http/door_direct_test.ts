import assert from "node:assert/strict";
import { BrokerError, type QueueService } from "../service/mod.ts";
import { AccessGuard } from "./access_guard.ts";
import { createApp } from "./app.ts";
import { Metrics } from "./metrics.ts";
import { FakeStatus, parsePrometheusText, recordingService } from "./testing/mod.ts";
import { keyRingOf, type Keys, nowMs, secretOf } from "./_access_fixtures.ts";
import { CmqTestClient, formEncode } from "./cmq_v2/_cmq_test_client.ts";

const received = {
  messages: [{
    id: "m1",
    sequence: 1,
    body: 'a "quoted" body\n\u2028',
    receiptHandle: "h1",
    enqueuedAt: 1,
    firstReceivedAt: 2,
    receiveCount: 1,
    visibleAt: 3,
  }],
};

/** Queue names that make the recording service fail, and how. */
function outcome(queue: string, ok: unknown): unknown {
  if (queue === "missing") throw new BrokerError("QueueNotFound", `queue '${queue}' not found`);
  if (queue === "buggy") throw new Error("a bug");
  return ok;
}

const answers: Partial<Record<keyof QueueService, unknown>> = {
  createQueue: { queue: { name: "orders" }, created: true },
  listQueues: { total: 0, queues: [] },
  sendMessages: (queue: string) => outcome(queue, { messages: [{ id: "m1", sequence: 1 }] }),
  receiveMessages: (queue: string) => outcome(queue, received),
  deleteMessages: (queue: string) => outcome(queue, { deleted: 1, failures: [] }),
};

interface Options {
  keys?: Keys;
  loopbackOnly?: boolean;
  leader?: string;
}

async function makeApp(doorDirect: boolean, options: Options) {
  const { service, calls } = recordingService(answers);
  const metrics = new Metrics();
  const status = new FakeStatus();
  status.leader = options.leader ?? null;
  const logged: string[] = [];
  const access = new AccessGuard({
    keyRing: options.keys === undefined ? null : await keyRingOf(options.keys),
    loopbackOnly: options.loopbackOnly ?? false,
    nowMs: () => nowMs,
  });
  const app = createApp({
    service,
    status,
    metrics,
    access,
    logError: (message) => logged.push(message),
    doorDirect,
  });
  return { app, calls, metrics, logged };
}

type Door = Awaited<ReturnType<typeof makeApp>>;
type Pair = { direct: Door; reference: Door };

/** The doors in front of hono, and hono alone, over the same keys and settings. */
async function pair(options: Options = {}): Promise<Pair> {
  return { direct: await makeApp(true, options), reference: await makeApp(false, options) };
}

const uuidPattern = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

interface Answer {
  status: number;
  headers: [string, string][];
  body: string;
}

/** Status, headers and body, with generated ids (the two apps draw their own) as `<id>`. */
async function answer(door: Door, path: string, init: RequestInit, env?: unknown) {
  const response = await door.app.request(path, init, env);
  const ids = (text: string) => text.replaceAll(uuidPattern, "<id>");
  return {
    status: response.status,
    headers: [...response.headers].map(([name, value]) => [name, ids(value)]),
    body: ids(await response.text()),
  } as Answer;
}

/** Sends the same request to both; asserts the same answer, service calls and log lines. */
async function same(
  doors: Pair,
  path: string,
  init: () => RequestInit,
  env?: unknown,
): Promise<Answer> {
  const expected = await answer(doors.reference, path, init(), env);
  const actual = await answer(doors.direct, path, init(), env);
  assert.deepStrictEqual(actual, expected, `${path} ${String(init().body).slice(0, 120)}`);
  // The third argument of a receive is what holds its abort signal (the request or the context).
  const calls = (door: Door) =>
    door.calls.map(({ method, args }) => ({ method, args: args.slice(0, 2) }));
  assert.deepStrictEqual(calls(doors.direct), calls(doors.reference));
  const logged = (door: Door) => door.logged.map((line) => line.replaceAll(uuidPattern, "<id>"));
  assert.deepStrictEqual(logged(doors.direct), logged(doors.reference));
  return actual;
}

/** Both apps counted the same requests under the same route labels. */
function sameMetrics(doors: Pair): [string, number][] {
  const samples = (door: Door) =>
    [...parsePrometheusText(door.metrics.text())].filter(([name]) =>
      name.startsWith("cmqd_http_requests_total") ||
      name.startsWith("cmqd_http_request_duration_seconds_count")
    ).sort();
  const direct = samples(doors.direct);
  assert.ok(direct.length > 0);
  assert.deepStrictEqual(direct, samples(doors.reference));
  return direct;
}

const form = (entries: [string, string][]) => formEncode(entries);
const post = (body: string, headers: Record<string, string> = {}) => () => ({
  method: "POST",
  headers,
  body,
});
const get = (headers: Record<string, string> = {}) => () => ({ method: "GET", headers });

/** CMQ requests as the SDKs send them (form bodies without a Content-Type, or a query). */
const cmqCases: { path: string; init: () => RequestInit }[] = [
  { path: "/v2/index.php", init: post(form([["Action", "ListQueue"]])) },
  {
    path: "/v2/index.php",
    init: post(form([["Action", "SendMessage"], ["queueName", "orders"], ["msgBody", "hi"]])),
  },
  {
    path: "/v2/index.php",
    init: post(form([
      ["Action", "BatchSendMessage"],
      ["queueName", "orders"],
      ["msgBody.1", "a"],
      ["msgBody.2", "b"],
    ])),
  },
  {
    path: "/v2/index.php",
    init: post(
      form([["Action", "BatchReceiveMessage"], ["queueName", "orders"], ["numOfMsg", "16"]]),
      { "x-request-id": "client-chosen-1" },
    ),
  },
  {
    path: "/v2/index.php",
    init: post(form([
      ["Action", "BatchDeleteMessage"],
      ["queueName", "orders"],
      ["receiptHandle.1", "h1"],
    ])),
  },
  {
    path: "/v2/index.php?Action=ReceiveMessage&queueName=orders&pollingWaitSeconds=0",
    init: get(),
  },
  { path: "/v2/index.php?Action=SendMessage&queueName=missing&msgBody=x", init: get() },
  { path: "/v2/index.php?Action=SendMessage&queueName=buggy&msgBody=x", init: get() },
  // Refused: no action, an unknown one, a gap in a list, a repeated name, another method.
  { path: "/v2/index.php", init: post("queueName=orders") },
  { path: "/v2/index.php", init: post(form([["Action", "Fly"]])) },
  {
    path: "/v2/index.php",
    init: post(form([
      ["Action", "BatchSendMessage"],
      ["queueName", "orders"],
      ["msgBody.1", "a"],
      ["msgBody.3", "c"],
    ])),
  },
  { path: "/v2/index.php?Action=ListQueue", init: post(form([["Action", "ListQueue"]])) },
  { path: "/v2/index.php", init: () => ({ method: "PUT", body: "Action=ListQueue" }) },
  { path: "/v2/index.php", init: post("Action=SendMessage&queueName=orders&msgBody=%ZZ") },
];

const sqs = (operation: string, body: unknown, extra: Record<string, string> = {}) =>
  post(typeof body === "string" ? body : JSON.stringify(body), {
    "content-type": "application/x-amz-json-1.0",
    "x-amz-target": `AmazonSQS.${operation}`,
    ...extra,
  });
const queueUrl = "http://localhost/000000000000/orders";

/** SQS requests: good, failing in the service, and refused by the door. */
const sqsCases: { path: string; init: () => RequestInit }[] = [
  { path: "/", init: sqs("ListQueues", {}) },
  { path: "/", init: sqs("SendMessage", { QueueUrl: queueUrl, MessageBody: "hi" }) },
  {
    path: "/",
    init: sqs("ReceiveMessage", { QueueUrl: queueUrl, MaxNumberOfMessages: 10 }, {
      "x-request-id": "client-chosen-2",
    }),
  },
  {
    path: "/",
    init: sqs("DeleteMessageBatch", {
      QueueUrl: queueUrl,
      Entries: [{ Id: "1", ReceiptHandle: "h1" }],
    }),
  },
  {
    path: "/",
    init: sqs("SendMessage", {
      QueueUrl: "http://localhost/000000000000/buggy",
      MessageBody: "x",
    }),
  },
  { path: "/", init: sqs("SendMessage", "{not json") },
  { path: "/", init: sqs("Fly", {}) },
  { path: "/", init: sqs("SendMessage", { QueueUrl: queueUrl }) },
];

Deno.test("the CMQ door in front of hono answers as through hono", async () => {
  const doors = await pair({ leader: "http://127.0.0.1:9000" });
  for (const { path, init } of cmqCases) await same(doors, path, init);
  assert.ok(doors.direct.calls.length > 0, "the cases reached the service");
  assert.ok(doors.direct.logged.length > 0, "the failing service call was logged");
  const labels = sameMetrics(doors).map(([name]) => name).join("\n");
  assert.match(labels, /route="\/v2\/index.php"/);
  assert.doesNotMatch(labels, /unmatched/);
});

Deno.test("the SQS door in front of hono answers as through hono", async () => {
  const doors = await pair({ leader: "http://127.0.0.1:9000" });
  for (const { path, init } of sqsCases) await same(doors, path, init);
  assert.ok(doors.direct.calls.length > 0, "the cases reached the service");
  // Not SQS requests: left to hono on both (no target, another method, a query).
  await same(doors, "/", post("{}"));
  await same(doors, "/", get({ "x-amz-target": "AmazonSQS.ListQueues" }));
  await same(doors, "/?x=1", sqs("ListQueues", {}));
  const labels = sameMetrics(doors).map(([name]) => name).join("\n");
  assert.match(labels, /route="\/",status="200"/);
});

Deno.test("paths near the CMQ door's are left to hono", async () => {
  const doors = await pair();
  for (const path of ["/v2/index.php/", "/v2/index.phpx", "/v2/index%2Ephp", "/v2/index.php#x"]) {
    await same(doors, path, post(form([["Action", "ListQueue"]])));
  }
  // HEAD: hono answers it as a GET without the body.
  await same(doors, "/v2/index.php?Action=ListQueue", () => ({ method: "HEAD" }));
  sameMetrics(doors);
});

Deno.test("with credentials both doors refuse and accept the same requests", async () => {
  const doors = await pair({ keys: { alice: ["queue:orders:send", "queue:*:read"] } });
  const credentials = { secretId: "alice", secretKey: secretOf("alice") };
  const signer = (signatureMethod: string) =>
    new CmqTestClient({
      handler: () => new Response(),
      credentials,
      signatureMethod,
      host: "localhost",
    });
  // The CMQ door checks `Timestamp` against the real clock.
  for (const method of ["HmacSHA1", "HmacSHA256"]) {
    // The same signed parameters (one nonce) to each app: each has its own replay cache.
    const signed = form(
      signer(method).signedParams("SendMessage", {
        queueName: "orders",
        msgBody: "hi",
      }),
    );
    const accepted = await same(doors, "/v2/index.php", post(signed, { host: "localhost" }));
    assert.equal(JSON.parse(accepted.body).code, 0, accepted.body);
  }
  const wrong = form(
    new CmqTestClient({
      handler: () => new Response(),
      credentials: { secretId: "alice", secretKey: "not-alice" },
      host: "localhost",
    }).signedParams("SendMessage", { queueName: "orders", msgBody: "hi" }),
  );
  const refused = await same(doors, "/v2/index.php", post(wrong, { host: "localhost" }));
  assert.equal(JSON.parse(refused.body).code, 4100, refused.body);
  const unsigned = await same(doors, "/v2/index.php", post(form([["Action", "ListQueue"]])));
  assert.equal(JSON.parse(unsigned.body).code, 4100, unsigned.body);
  const anonymousSqs = await same(doors, "/", sqs("ListQueues", {}));
  assert.equal(anonymousSqs.status, 403, anonymousSqs.body);
  assert.match(anonymousSqs.body, /MissingAuthenticationToken/);
  sameMetrics(doors);
});

Deno.test("protected mode refuses remote clients of both doors as hono does", async () => {
  const doors = await pair({ loopbackOnly: true });
  const remote = { remoteAddr: { transport: "tcp", hostname: "192.0.2.7", port: 5000 } };
  const local = { remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 5000 } };
  const cmq = post(form([["Action", "ListQueue"]]));
  const list = sqs("ListQueues", {});
  assert.equal((await same(doors, "/v2/index.php", cmq, remote)).status, 403);
  assert.equal((await same(doors, "/", list, remote)).status, 403);
  assert.equal((await same(doors, "/v2/index.php", cmq, undefined)).status, 403);
  assert.equal((await same(doors, "/v2/index.php", cmq, local)).status, 200);
  assert.equal((await same(doors, "/", list, local)).status, 200);
  sameMetrics(doors);
});
