/**
 * The door as a whole: what reaches it over the wire (methods, content types, GET, body
 * bounds, parameter sets), the shape of every answer, the actions it does not serve, and the
 * one table from service errors to CMQ codes.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { BrokerError, type ErrorCode, errorCodes } from "../../service/mod.ts";

import { cmqCode, moduleCode } from "./errors.ts";
import { parametersMax } from "./params.ts";
import { type CmqDoorEnv, createCmqDoor } from "./mod.ts";
import type { QueueService } from "./deps.ts";
import { CmqTestClient, formEncode } from "./_cmq_test_client.ts";
import { setup } from "./_test_setup.ts";

/** A service answering only what a test scripts; any other call is a bug. */
function stubService(methods: Partial<QueueService>): QueueService {
  return new Proxy(methods, {
    get: (target, name) =>
      target[name as keyof QueueService] ??
        (() => Promise.reject(new Error(`unexpected call of ${String(name)}`))),
  }) as QueueService;
}

Deno.test("POST without Content-Type, POST with the Java SDK's */*, form POST and GET all work", async () => {
  const variants = [
    { httpMethod: "POST" as const },
    { httpMethod: "POST" as const, contentType: "*/*;charset=utf-8" },
    { httpMethod: "POST" as const, contentType: "application/x-www-form-urlencoded" },
    { httpMethod: "POST" as const, contentType: "application/json" },
    { httpMethod: "GET" as const },
  ];
  for (const variant of variants) {
    const { client } = setup({ client: variant });
    const created = await client.call("CreateQueue", { queueName: "jobs" });
    assert.equal(created.body.code, 0, `${JSON.stringify(variant)}: ${created.body.message}`);
    await client.call("SendMessage", { queueName: "jobs", msgBody: "a b&c=d+e %é 中" });
    const received = await client.call("ReceiveMessage", { queueName: "jobs" });
    assert.equal(received.body.msgBody, "a b&c=d+e %é 中", JSON.stringify(variant));
  }
});

Deno.test("every answer is HTTP 200 JSON starting with code, message, requestId", async () => {
  const { client } = setup();
  for (const [action, params] of [["ListQueue", {}], ["GetQueueAttributes", { queueName: "x" }]]) {
    const reply = await client.call(action as string, params as Record<string, string>);
    assert.equal(reply.status, 200);
    assert.match(reply.contentType ?? "", /^application\/json/);
    assert.deepEqual(Object.keys(reply.body).slice(0, 3), ["code", "message", "requestId"]);
    assert.equal(typeof reply.body.requestId, "string");
    assert.ok(reply.body.requestId.length > 0);
  }
});

Deno.test("a missing, unknown, or (without a topic service) topic Action is 4000 (10390)/(10280) and changes nothing", async () => {
  const { client, refused } = setup();
  await refused(
    () => client.send([["queueName", "jobs"]]),
    cmqCode.invalidParameter,
    moduleCode.missingParameter,
  );
  const unknown = await refused(
    () => client.call("PurgeQueue", { queueName: "jobs" }),
    cmqCode.invalidParameter,
    moduleCode.actionNotExisting,
  );
  assert.match(unknown.body.message, /'PurgeQueue'/);
  for (const action of ["CreateTopic", "PublishMessage", "Subscribe", "ListTopic"]) {
    const reply = await refused(
      () => client.call(action, { topicName: "news" }),
      cmqCode.invalidParameter,
      moduleCode.actionNotExisting,
    );
    assert.match(reply.body.message, /topics are not served by this cmqd/);
  }
  // Names of Object.prototype are not actions.
  await refused(() => client.call("constructor"), 4000, moduleCode.actionNotExisting);
});

Deno.test("a method other than GET or POST is 4000 (10410)", async () => {
  const { client, refused } = setup();
  for (const httpMethod of ["PUT", "DELETE", "PATCH"]) {
    await refused(
      () => client.sendRaw("Action=ListQueue", { httpMethod }),
      cmqCode.invalidParameter,
      moduleCode.methodNotSupported,
    );
  }
});

Deno.test("a body over the bound is 4000 (10350), declared or streamed", async () => {
  const { client, refused, door } = setup({ door: { requestBytesMax: 1024 } });
  const large = formEncode([
    ["Action", "CreateQueue"],
    ["queueName", "jobs"],
    ["padding", "x".repeat(2000)],
  ]);
  await refused(() => client.sendRaw(large), cmqCode.invalidParameter, moduleCode.outOfRange);
  const declared = await door.request(
    new Request("http://127.0.0.1:9876/v2/index.php", {
      method: "POST",
      headers: { "content-length": "5000" },
      body: new TextEncoder().encode("Action=ListQueue"),
    }),
  );
  const body = await declared.json();
  assert.equal(body.code, cmqCode.invalidParameter);
  assert.match(body.message, /^\(10350\)request body .*at most 1024 bytes/);
  const fits = await client.call("CreateQueue", { queueName: "jobs" });
  assert.equal(fits.body.code, 0);
});

Deno.test("a parameter given twice, in one part or across query and body, is 4000 (10330)", async () => {
  const { client, refused, door } = setup();
  await refused(
    () => client.sendRaw("Action=CreateQueue&queueName=a&queueName=b"),
    cmqCode.invalidParameter,
    moduleCode.notRepeatable,
  );
  const reply = await door.request(
    new Request("http://127.0.0.1:9876/v2/index.php?Action=CreateQueue&queueName=a", {
      method: "POST",
      body: new TextEncoder().encode("queueName=b"),
    }),
  );
  const body = await reply.json();
  assert.equal(body.code, cmqCode.invalidParameter);
  assert.match(body.message, /^\(10330\)parameter queueName is NOT a repeatable parameter/);
  // Split without a repeat, query and body make one request.
  const split = await door.request(
    new Request("http://127.0.0.1:9876/v2/index.php?Action=CreateQueue", {
      method: "POST",
      body: new TextEncoder().encode("queueName=split"),
    }),
  );
  assert.equal((await split.json()).code, 0);
});

Deno.test(`more than ${parametersMax} parameters is 4000 (10000)`, async () => {
  const { client, refused } = setup();
  const entries: [string, string][] = [["Action", "ListQueue"]];
  for (let index = 0; index < parametersMax; index++) entries.push([`extra${index}`, "1"]);
  await refused(() => client.send(entries), cmqCode.invalidParameter, moduleCode.invalidRequest);
});

Deno.test("parameters CMQ's SDKs add (UserpollingWaitSeconds, RequestClient, Token) are ignored", async () => {
  const { client } = setup();
  const reply = await client.call("CreateQueue", {
    queueName: "jobs",
    UserpollingWaitSeconds: 30000,
    Token: "temporary",
    Region: "gz",
  });
  assert.equal(reply.body.code, 0, reply.body.message);
});

Deno.test("the request id of an outer middleware is the answer's requestId", async () => {
  const { broker } = setup();
  const outer = new Hono<CmqDoorEnv>();
  outer.use("*", async (c, next) => {
    c.set("requestId", "outer-7");
    await next();
  });
  outer.route("/", createCmqDoor({ service: broker, keys: null }));
  const client = new CmqTestClient({ handler: (request) => outer.request(request) });
  assert.equal((await client.call("ListQueue")).body.requestId, "outer-7");
  assert.equal((await client.call("Nope")).body.requestId, "outer-7");
});

/** What each service error code answers (the door's one table, spelled out). */
const expectedCodes: Record<string, [number, number?]> = {
  InvalidParameter: [4000, 10110],
  MalformedRequest: [4000, 10000],
  UnsupportedMediaType: [4000, 10000],
  NotFound: [4000, 10000],
  MethodNotAllowed: [4000, 10410],
  BatchTooLarge: [4000, 10370],
  RequestTooLarge: [4000, 10350],
  Unauthenticated: [4100],
  AccessDenied: [4103],
  MessageTooLarge: [4400],
  BacklogFull: [4410],
  InsufficientStorage: [4410],
  ReceiptHandleInvalid: [4430],
  ReceiptHandleStale: [4430],
  MessageNotInflight: [4430],
  QueueNotFound: [4440],
  QueueLimitExceeded: [4450],
  TopicLimitExceeded: [4450],
  TopicNotFound: [4440],
  SubscriptionNotFound: [4440],
  QueueAlreadyExists: [4460],
  TopicAlreadyExists: [4460],
  SubscriptionAlreadyExists: [4460],
  InternalError: [6000],
  NoLeader: [6000],
  NotReady: [6000],
  RequestTimeout: [4000, 10000],
  NodeRemoved: [6000],
};

Deno.test("every service error code has its CMQ answer", async () => {
  const serviceCodes: readonly ErrorCode[] = errorCodes;
  for (const code of serviceCodes) assert.ok(code in expectedCodes, `${code} is not mapped`);
  for (const [code, [cmq, module]] of Object.entries(expectedCodes)) {
    const service = stubService({
      getQueue: () => Promise.reject(new BrokerError(code as ErrorCode, "refused by the service")),
    });
    const client = new CmqTestClient({
      handler: (request) => createCmqDoor({ service, keys: null }).request(request),
    });
    const reply = await client.call("GetQueueAttributes", { queueName: "jobs" });
    assert.equal(reply.body.code, cmq, code);
    const prefix = module === undefined ? "" : `(${module})`;
    assert.equal(reply.body.message, `${prefix}refused by the service`, code);
  }
});

Deno.test("an unexpected failure is 6000, logged, and its text is not shown", async () => {
  const logged: unknown[] = [];
  const service = stubService({
    listQueues: () => Promise.reject(new TypeError("secret internals")),
  });
  const door = createCmqDoor({
    service,
    keys: null,
    logError: (_message, error) => logged.push(error),
  });
  const client = new CmqTestClient({ handler: (request) => door.request(request) });
  const reply = await client.call("ListQueue");
  assert.equal(reply.status, 200);
  assert.equal(reply.body.code, cmqCode.internalError);
  assert.doesNotMatch(reply.body.message, /secret internals/);
  assert.equal(logged.length, 1);
  assert.ok(logged[0] instanceof TypeError);
});

Deno.test("a queue created between CreateQueue's read and its write is still 4460", async () => {
  const service = stubService({
    getQueue: () => Promise.reject(new BrokerError("QueueNotFound", "queue 'jobs' does not exist")),
    createQueue: () => Promise.resolve({ queue: {} as never, created: false }),
  });
  const client = new CmqTestClient({
    handler: (request) => createCmqDoor({ service, keys: null }).request(request),
  });
  const reply = await client.call("CreateQueue", { queueName: "jobs" });
  assert.equal(reply.body.code, cmqCode.queueAlreadyExists);
});
