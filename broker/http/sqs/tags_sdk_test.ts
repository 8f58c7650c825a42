/**
 * Queue tags at the SQS door — TagQueue, UntagQueue, ListQueueTags and CreateQueue `tags` —
 * driven by the real, unmodified `@aws-sdk/client-sqs`.
 */
import assert from "node:assert/strict";
import {
  CreateQueueCommand,
  GetQueueUrlCommand,
  ListQueueTagsCommand,
  SQSClient,
  TagQueueCommand,
  UntagQueueCommand,
} from "./_npm_test_deps.ts";
import { adminKey, rawCall, rejectsWith, startDoor } from "./_test_server.ts";
import { wallClockEngine } from "../../cluster/testing/mod.ts";
import type { QueueService } from "./broker_deps.ts";
import { createSqsDoor } from "./mod.ts";

function manyTags(count: number, prefix = "k"): Record<string, string> {
  return Object.fromEntries(
    Array.from({ length: count }, (_, index) => [`${prefix}${index}`, "v"]),
  );
}

Deno.test("TagQueue adds and overwrites, UntagQueue removes, ListQueueTags lists", async () => {
  await using door = startDoor();
  const { QueueUrl } = await door.client.send(
    new CreateQueueCommand({ QueueName: "orders", tags: { team: "pay", env: "prod" } }),
  );
  const list = async (url = QueueUrl) =>
    (await door.client.send(new ListQueueTagsCommand({ QueueUrl: url }))).Tags;
  assert.deepEqual(await list(), { env: "prod", team: "pay" });
  await door.client.send(
    new TagQueueCommand({ QueueUrl, Tags: { env: "dev", "Cost Centre": "4 2", owner: "" } }),
  );
  assert.deepEqual(await list(), { "Cost Centre": "4 2", env: "dev", owner: "", team: "pay" });
  await door.client.send(new UntagQueueCommand({ QueueUrl, TagKeys: ["team", "not-there"] }));
  assert.deepEqual(await list(), { "Cost Centre": "4 2", env: "dev", owner: "" });
  assert.deepEqual((await door.broker.getQueue("orders")).tags, await list(), "the same tags");
  await door.client.send(
    new UntagQueueCommand({ QueueUrl, TagKeys: ["Cost Centre", "env", "owner"] }),
  );
  assert.equal(await list(), undefined, "no tags: no Tags member");

  const fifo = await door.client.send(
    new CreateQueueCommand({
      QueueName: "jobs.fifo",
      Attributes: { FifoQueue: "true" },
      tags: { kind: "fifo" },
    }),
  );
  assert.deepEqual(await list(fifo.QueueUrl), { kind: "fifo" });
  for (
    const command of [
      new ListQueueTagsCommand({ QueueUrl: door.queueUrl("jobs") }),
      new TagQueueCommand({ QueueUrl: door.queueUrl("orders.fifo"), Tags: { a: "b" } }),
      new UntagQueueCommand({ QueueUrl: door.queueUrl("missing"), TagKeys: ["a"] }),
    ]
  ) {
    // deno-lint-ignore no-explicit-any
    await rejectsWith(door.client.send(command as any), { name: "QueueDoesNotExist" });
  }
  assert.deepEqual(door.errors, []);
});

Deno.test("CreateQueue with tags: the same tags answer the URL, other tags QueueNameExists", async () => {
  await using door = startDoor();
  const create = (tags?: Record<string, string>) =>
    door.client.send(new CreateQueueCommand({ QueueName: "orders", tags }));
  await create({ team: "pay" });
  assert.equal((await create({ team: "pay" })).QueueUrl, door.queueUrl("orders"));
  assert.equal((await create()).QueueUrl, door.queueUrl("orders"), "no tags match any");
  const others: Record<string, string>[] = [{ team: "ops" }, { team: "pay", env: "prod" }];
  for (const tags of others) {
    await rejectsWith(create(tags), { name: "QueueNameExists", code: "QueueAlreadyExists" });
  }
  await door.client.send(new CreateQueueCommand({ QueueName: "plain" }));
  await rejectsWith(
    door.client.send(new CreateQueueCommand({ QueueName: "plain", tags: { a: "b" } })),
    { name: "QueueNameExists" },
  );
  assert.equal((await door.broker.getQueue("plain")).tags, undefined, "nothing was tagged");
  assert.deepEqual((await door.broker.getQueue("orders")).tags, { team: "pay" });
});

/**
 * A door whose service holds every tag or attribute change until `changes` of them have
 * arrived: all the requests have read the queue before any change applies, the worst case of
 * a read-modify-write.
 */
function doorHoldingChanges(changes: number) {
  const { broker } = wallClockEngine();
  let arrived = 0;
  let release = () => {};
  const allArrived = new Promise<void>((resolve) => (release = resolve));
  const hold = async () => {
    if (++arrived === changes) release();
    await allArrived;
  };
  const held: Partial<QueueService> = {
    changeQueueTags: async (name, tagChanges) => {
      await hold();
      return await broker.changeQueueTags(name, tagChanges);
    },
    updateQueue: async (name, attributes) => {
      await hold();
      return await broker.updateQueue(name, attributes);
    },
  };
  const service = new Proxy(broker, {
    get: (target, method: keyof QueueService) =>
      held[method] ?? (target[method] as (...args: unknown[]) => unknown).bind(target),
  }) as QueueService;
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    createSqsDoor({ service, keys: null }),
  );
  const client = new SQSClient({
    endpoint: `http://127.0.0.1:${server.addr.port}`,
    region: "eu-west-1",
    credentials: { accessKeyId: "AKIDany", secretAccessKey: "any" },
    maxAttempts: 1,
  });
  return {
    broker,
    client,
    async [Symbol.asyncDispose]() {
      client.destroy();
      broker.close();
      await server.shutdown();
    },
  };
}

Deno.test("concurrent TagQueue and UntagQueue calls on one queue all land", async () => {
  await using door = doorHoldingChanges(30);
  await door.broker.createQueue("busy", { tags: manyTags(10, "old") });
  const { QueueUrl } = await door.client.send(new GetQueueUrlCommand({ QueueName: "busy" }));
  await Promise.all([
    ...Object.entries(manyTags(20)).map(([key, value]) =>
      door.client.send(new TagQueueCommand({ QueueUrl, Tags: { [key]: value } }))
    ),
    ...Object.keys(manyTags(10, "old")).map((key) =>
      door.client.send(new UntagQueueCommand({ QueueUrl, TagKeys: [key] }))
    ),
  ]);
  const { Tags } = await door.client.send(new ListQueueTagsCommand({ QueueUrl }));
  assert.deepEqual(Tags, manyTags(20));
});

Deno.test("bad tags get SQS's errors and change nothing", async () => {
  await using door = startDoor();
  const { QueueUrl } = await door.client.send(
    new CreateQueueCommand({ QueueName: "q", tags: manyTags(49) }),
  );
  const before = await door.broker.getQueue("q");
  const lastIndex = door.replica.lastIndex;
  const invalid: [string, Record<string, string>, RegExp][] = [
    ["51 tags", manyTags(51, "n"), /^tags: must have at most 50 tags, got 51/],
    ["a 129-character key", { ["k".repeat(129)]: "v" }, /^tags: key "k+…" has 129 characters/],
    ["a bad character", { "a*b": "v" }, /^tags\.a\*b: key may hold only letters/],
    ["a newline in a value", { env: "a\nb" }, /^tags\.env: value may hold only/],
    ["a 257-character value", { env: "v".repeat(257) }, /^tags\.env: must have at most 256/],
    ["the reserved prefix", { "aws:owner": "x" }, /^tags\.aws:owner: key must not start/],
  ];
  for (const [name, tags, message] of invalid) {
    const expected = { name: "InvalidParameterValue", code: "InvalidParameterValue", message };
    const tagging = door.client.send(new TagQueueCommand({ QueueUrl, Tags: tags }));
    await rejectsWith(tagging, expected).catch((error) => assert.fail(`${name}: ${error}`));
    const creating = door.client.send(new CreateQueueCommand({ QueueName: "fresh", tags }));
    await rejectsWith(creating, expected).catch((error) => assert.fail(`${name}: ${error}`));
  }
  // 49 + 2 new keys is over the limit even though each request alone is small.
  await rejectsWith(
    door.client.send(new TagQueueCommand({ QueueUrl, Tags: { x: "1", y: "2" } })),
    { name: "InvalidParameterValue", message: /^tags: must have at most 50 tags, got 51/ },
  );
  await rejectsWith(door.client.send(new TagQueueCommand({ QueueUrl, Tags: {} })), {
    name: "MissingParameter",
    message: /parameter Tags/,
  });
  await rejectsWith(door.client.send(new UntagQueueCommand({ QueueUrl, TagKeys: [] })), {
    name: "MissingParameter",
    message: /parameter TagKeys/,
  });
  await rejectsWith(
    door.client.send(new UntagQueueCommand({ QueueUrl, TagKeys: ["x".repeat(129)] })),
    { name: "InvalidParameterValue", message: /^tagKeys\.0: must be a key of 1 to 128/ },
  );
  const raw = (target: string, body: object) =>
    rawCall(door.endpoint, `AmazonSQS.${target}`, JSON.stringify(body));
  const wrongType = await raw("TagQueue", { QueueUrl, Tags: { env: 1 } });
  assert.equal(wrongType.status, 400);
  assert.equal(wrongType.body.__type, "com.amazon.coral.service#SerializationException");
  const noUrl = await raw("ListQueueTags", {});
  assert.equal(noUrl.body.__type, "com.amazon.coral.service#MissingParameter");
  assert.equal(door.replica.lastIndex, lastIndex, "nothing was proposed");
  assert.deepEqual(await door.broker.getQueue("q"), before);
  await assert.rejects(door.broker.getQueue("fresh"), { code: "QueueNotFound" });
  assert.deepEqual(door.errors, []);
});

Deno.test("changing tags needs queue:<name>:manage, listing them queue:<name>:read", async () => {
  const reader = { secretId: "AKIDreader", secretKey: "reader-secret", allow: ["queue:q:read"] };
  const manager = {
    secretId: "AKIDmanager",
    secretKey: "manager-secret",
    allow: ["queue:q:manage"],
  };
  await using door = startDoor({ keys: [adminKey, reader, manager] });
  const { QueueUrl } = await door.client.send(
    new CreateQueueCommand({ QueueName: "q", tags: { env: "prod" } }),
  );
  const asReader = door.clientFor(reader);
  const asManager = door.clientFor(manager);
  assert.deepEqual((await asReader.send(new ListQueueTagsCommand({ QueueUrl }))).Tags, {
    env: "prod",
  });
  const denied = { name: "AccessDenied", status: 403, message: /queue:q:manage/ };
  await rejectsWith(asReader.send(new TagQueueCommand({ QueueUrl, Tags: { a: "b" } })), denied);
  await rejectsWith(asReader.send(new UntagQueueCommand({ QueueUrl, TagKeys: ["env"] })), denied);
  await rejectsWith(asManager.send(new ListQueueTagsCommand({ QueueUrl })), {
    name: "AccessDenied",
    message: /queue:q:read/,
  });
  await asManager.send(new TagQueueCommand({ QueueUrl, Tags: { owner: "ana" } }));
  await asManager.send(new UntagQueueCommand({ QueueUrl, TagKeys: ["env"] }));
  assert.deepEqual((await door.broker.getQueue("q")).tags, { owner: "ana" });
});
