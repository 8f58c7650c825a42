import assert from "node:assert/strict";
import { nowMs, secretOf } from "./_access_fixtures.ts";
import { CmqTestClient, formEncode } from "./cmq_v2/_cmq_test_client.ts";
import {
  type AppPair,
  pairedApps,
  type PairOptions,
  same,
  sameMetrics,
  serviceAnswers,
} from "./_paired_apps.ts";

/** The doors in front of hono, and hono alone, over the same keys and settings. */
function pair(options: PairOptions = {}): Promise<AppPair> {
  return pairedApps("doorDirect", serviceAnswers, options);
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
  // The PHP SDK's GET path: the door's path twice.
  { path: "/v2/index.php/v2/index.php?Action=ListQueue", init: get() },
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
  // The media type: JSON with parameters is served; another type, or none, is refused.
  { path: "/", init: sqs("ListQueues", {}, { "content-type": "application/json; charset=utf-8" }) },
  { path: "/", init: sqs("ListQueues", {}, { "content-type": "text/plain" }) },
  {
    path: "/",
    init: () => ({
      method: "POST",
      headers: { "x-amz-target": "AmazonSQS.ListQueues" },
      body: new TextEncoder().encode("{}"),
    }),
  },
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
  const plain = await same(doors, "/", sqs("ListQueues", {}, { "content-type": "text/plain" }));
  assert.equal(plain.status, 404, "a body of another media type is refused on both paths");
  assert.match(plain.body, /UnknownOperationException/);
  // Not SQS requests: left to hono on both (no target, another method, a query).
  await same(doors, "/", post("{}"));
  await same(doors, "/", get({ "x-amz-target": "AmazonSQS.ListQueues" }));
  await same(doors, "/?x=1", sqs("ListQueues", {}));
  const labels = sameMetrics(doors).map(([name]) => name).join("\n");
  assert.match(labels, /route="\/",status="200"/);
});

const queryForm = (entries: [string, string][]) =>
  post(form([...entries, ["Version", "2012-11-05"]]), {
    "content-type": "application/x-www-form-urlencoded; charset=utf-8",
  });

/** SQS query-protocol requests, at `/` and at a queue URL's path, by POST and by GET. */
const sqsQueryCases: { path: string; init: () => RequestInit }[] = [
  { path: "/", init: queryForm([["Action", "ListQueues"]]) },
  {
    path: "/000000000000/orders",
    init: queryForm([["Action", "SendMessage"], ["MessageBody", "hi"]]),
  },
  {
    path: "/",
    init: queryForm([["Action", "SendMessage"], ["QueueUrl", queueUrl], ["MessageBody", "hi"]]),
  },
  { path: "/?Action=ListQueues", init: get() },
  { path: "/000000000000/orders/?Action=ReceiveMessage&MaxNumberOfMessages=10", init: get() },
  {
    path: "/000000000000/buggy",
    init: queryForm([["Action", "SendMessage"], ["MessageBody", "x"]]),
  },
  { path: "/", init: queryForm([["Action", "Fly"]]) },
  { path: "/", init: queryForm([["Action", "ListQueues"], ["Bogus", "1"]]) },
];

Deno.test("the SQS query protocol in front of hono answers as through hono", async () => {
  const doors = await pair({ leader: "http://127.0.0.1:9000" });
  for (const { path, init } of sqsQueryCases) {
    const answer = await same(doors, path, init);
    assert.match(answer.body, /^<\?xml version="1.0"/, `${path}: ${answer.body}`);
  }
  assert.ok(doors.direct.calls.length > 0, "the cases reached the service");
  // Not SQS requests: left to hono on both (a GET naming no action, another path, a JSON body).
  await same(doors, "/", get());
  await same(doors, "/v1/queues", queryForm([["Action", "ListQueues"]]));
  await same(doors, "/abc/orders?Action=ListQueues", get());
  await same(doors, "/000000000000/orders/x?Action=ListQueues", get());
  const labels = sameMetrics(doors).map(([name]) => name).join("\n");
  assert.match(labels, /route="\/",status="200"/);
  assert.match(labels, /route="\/",status="500"/);
});

Deno.test("SQS answers carry the request id and the leader hint, on both paths", async () => {
  const doors = await pair({ leader: "http://127.0.0.1:9000" });
  const chosen = { "x-request-id": "client-chosen-3" };
  const sendTo = (queue: string) =>
    sqs("SendMessage", { QueueUrl: queueUrl.replace("orders", queue), MessageBody: "x" }, chosen);
  // A success, an error of the service, a bug (500) and an error of the door.
  for (
    const init of [
      sqs("ListQueues", {}, chosen),
      sendTo("missing"),
      sendTo("buggy"),
      sqs("Fly", {}, chosen),
    ]
  ) {
    const { headers } = await same(doors, "/", init);
    const header = (name: string) => headers.find(([each]) => each === name)?.[1];
    assert.equal(header("x-request-id"), "client-chosen-3");
    assert.equal(header("x-amzn-requestid"), "client-chosen-3", "one id for the request");
    assert.equal(header("x-cmqd-leader"), "http://127.0.0.1:9000");
  }
  // The bug's log line names the request, as the CMQ door's does.
  assert.deepEqual(doors.direct.logged, ["SQS request client-chosen-3 failed: Error: a bug"]);
  // Without one, the id the broker draws is the same in both headers.
  const drawn = await pairedApps("doorDirect", serviceAnswers, {});
  for (const app of [drawn.direct.app, drawn.reference.app]) {
    const response = await app.request("/", sqs("ListQueues", {})());
    await response.body?.cancel();
    const id = response.headers.get("x-request-id");
    assert.ok(id !== null && id.length > 0);
    assert.equal(response.headers.get("x-amzn-requestid"), id);
  }
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
      // The apps' guard runs on a fixed clock, and the CMQ door checks `Timestamp` by it.
      now: () => nowMs,
    });
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
      now: () => nowMs,
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
