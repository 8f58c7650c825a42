import assert from "node:assert/strict";
import { BrokerError } from "./errors.ts";
import { tagLimits } from "./limits.ts";
import { checkAttributesInput, resolveCreate, resolveUpdate } from "./queue_attributes.ts";
import { checkTagChanges, checkTags } from "./queue_tags.ts";
import { encodeCreateQueue, encodeUpdateQueue } from "./commands.ts";
import { StateMachine } from "./state_machine.ts";
import { CommandType, type QueueAttributesInput, type TagChanges } from "./types.ts";
import type { Queue } from "../../sdk/protocol.ts";

const utf8 = new TextEncoder();

/** `count` tags `k0…` → `v`. */
function manyTags(count: number): Record<string, string> {
  return Object.fromEntries(Array.from({ length: count }, (_, index) => [`k${index}`, "v"]));
}

function refusal(run: () => unknown): { field?: string; message: string } {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof BrokerError, String(error));
    assert.equal(error.code, "InvalidParameter");
    return { field: error.field, message: error.message };
  }
  assert.fail("accepted");
}

Deno.test("tag validation: every bad tag map gets its exact field", () => {
  const longKey = "k".repeat(tagLimits.keyCharsMax + 1);
  const cases: [string, unknown, string, RegExp][] = [
    ["not an object", "env=prod", "tags", /must be an object/],
    ["an array", [["env", "prod"]], "tags", /must be an object/],
    ["51 tags", manyTags(tagLimits.tagsMax + 1), "tags", /at most 50 tags, got 51/],
    ["an empty key", { "": "x" }, "tags", /key must not be empty/],
    ["a 129-character key", { [longKey]: "x" }, "tags", /has 129 characters; at most 128/],
    ["a tab in a key", { "a\tb": "x" }, "tags.a\tb", /key may hold only letters/],
    ["a comma in a key", { "a,b": "x" }, "tags.a,b", /key may hold only letters/],
    ["a newline in a value", { env: "a\nb" }, "tags.env", /value may hold only letters/],
    ["a star in a value", { env: "prod*" }, "tags.env", /value may hold only letters/],
    ["a reserved key", { "aws:owner": "x" }, "tags.aws:owner", /must not start with "aws:"/],
    ["a reserved key, any case", { "AWS:x": "y" }, "tags.AWS:x", /must not start with/],
    ["a reserved value", { owner: "aws:team" }, "tags.owner", /must not start with/],
    ["a number value", { env: 1 }, "tags.env", /must be a string/],
    ["a null value", { env: null }, "tags.env", /must be a string/],
    ["a 257-character value", { env: "v".repeat(257) }, "tags.env", /at most 256 characters/],
  ];
  for (const [name, tags, field, message] of cases) {
    const refused = refusal(() => checkAttributesInput({ tags }));
    assert.equal(refused.field, field, name);
    assert.match(refused.message, message, name);
    assert.ok(refused.message.startsWith(`${field}: `), name);
    assert.ok(refused.message.length < 200, `${name}: a short message`);
  }
});

Deno.test("tag validation: SQS's whole alphabet and limits are accepted, in code points", () => {
  // As a JSON body arrives: "__proto__" is an own key there.
  const tags = Object.assign(JSON.parse('{"__proto__": "stays data"}'), {
    "Cost Centre": "",
    "team_a.b:c/d=e+f-g@h": "Ünïcødé 値 ٣ spaces ok",
    // Both beyond the limit in UTF-16 units (256 and 512), within it in characters.
    ["𝐀".repeat(tagLimits.keyCharsMax)]: "𠀀".repeat(tagLimits.valueCharsMax),
    "aws": "not the reserved prefix",
  });
  const clean = checkTags(tags);
  assert.deepEqual(JSON.parse(JSON.stringify(clean)), JSON.parse(JSON.stringify(tags)));
  assert.equal(Object.keys(clean).length, 5);
  assert.equal(clean["__proto__"], "stays data");
  assert.ok(Object.hasOwn(clean, "__proto__"));
  assert.ok(Object.isFrozen(clean));
  assert.equal(Object.keys(checkTags(manyTags(tagLimits.tagsMax))).length, tagLimits.tagsMax);
  assert.deepEqual(Object.keys(checkTags({ b: "", a: "", c: "" })), ["a", "b", "c"]);
});

Deno.test("tag changes: removal lists are bounded and typed", () => {
  const cases: [unknown, string][] = [
    [{ remove: "env" }, "tagKeys"],
    [{ remove: [""] }, "tagKeys.0"],
    [{ remove: ["ok", 5] }, "tagKeys.1"],
    [{ remove: ["x".repeat(129)] }, "tagKeys.0"],
    [{ remove: Object.keys(manyTags(51)) }, "tagKeys"],
    [{ set: { "a,b": "x" } }, "tags.a,b"],
    [{ add: {} }, "tagChanges.add"],
    [[], "tagChanges"],
  ];
  for (const [changes, field] of cases) {
    assert.equal(refusal(() => checkTagChanges(changes)).field, field, JSON.stringify(changes));
  }
  assert.equal(checkTagChanges(undefined), undefined);
});

Deno.test("tags are stored only when there are some, replaced by an update, removed by null or {}", () => {
  assert.equal("tags" in resolveCreate({}), false);
  assert.equal("tags" in resolveCreate({ tags: {} }), false);
  assert.equal("tags" in resolveCreate({ tags: null }), false);
  const tagged = resolveCreate({ tags: { env: "prod", team: "a" } });
  assert.deepEqual(tagged.tags, { env: "prod", team: "a" });
  assert.deepEqual(resolveUpdate(tagged, { tags: { env: "dev" } }).tags, { env: "dev" });
  assert.deepEqual(resolveUpdate(tagged, { maxBacklog: 5 }).tags, tagged.tags);
  assert.equal("tags" in resolveUpdate(tagged, { tags: null }), false);
  assert.equal("tags" in resolveUpdate(tagged, { tags: {} }), false);
  const changed = resolveUpdate(tagged, {}, { set: { owner: "x", env: "dev" }, remove: ["team"] });
  assert.deepEqual(changed.tags, { env: "dev", owner: "x" });
  assert.equal("tags" in resolveUpdate(tagged, {}, { remove: ["env", "team", "nope"] }), false);
  const full = resolveCreate({ tags: manyTags(tagLimits.tagsMax) });
  assert.equal(refusal(() => resolveUpdate(full, {}, { set: { extra: "1" } })).field, "tags");
  assert.equal(Object.keys(resolveUpdate(full, {}, { set: { k0: "new" } }).tags!).length, 50);
});

class Driver {
  machine = new StateMachine();
  index = 0;
  now = 1_700_000_000_000;

  apply(type: number, payload: Uint8Array): unknown {
    return this.machine.apply({ index: ++this.index, timestamp: this.now, type, payload });
  }
  create(queue: string, attributes: QueueAttributesInput): unknown {
    const resolved = resolveCreate(attributes);
    return this.apply(
      CommandType.CreateQueue,
      encodeCreateQueue({ queue, attributes: resolved, salt: 5 }),
    );
  }
  update(queue: string, attributes: QueueAttributesInput, tagChanges?: TagChanges): unknown {
    return this.apply(
      CommandType.UpdateQueue,
      encodeUpdateQueue({ queue, attributes, tagChanges }),
    );
  }
  tags(queue: string): Record<string, string> | null | undefined {
    return this.machine.getQueue(queue, this.now)?.tags;
  }
}

Deno.test("state machine: tag changes apply to the tags of their moment, so concurrent ones both land", () => {
  const driver = new Driver();
  driver.create("q", { tags: { env: "prod" } });
  // Two clients read {env: prod}, then each commits its own change: neither is lost.
  // Each answers the queue as its own entry left it.
  const first = driver.update("q", {}, { set: { owner: "ana" } }) as { queue: Queue };
  const second = driver.update("q", {}, { set: { cost: "42" } }) as { queue: Queue };
  assert.deepEqual(first.queue.tags, { env: "prod", owner: "ana" });
  assert.deepEqual(second.queue.tags, { cost: "42", env: "prod", owner: "ana" });
  assert.deepEqual(driver.tags("q"), { cost: "42", env: "prod", owner: "ana" });
  driver.update("q", {}, { remove: ["env", "absent"] });
  assert.deepEqual(driver.tags("q"), { cost: "42", owner: "ana" });
  driver.update("q", { tags: { only: "this" } });
  assert.deepEqual(driver.tags("q"), { only: "this" });
  driver.update("q", { tags: null });
  assert.equal(driver.tags("q"), undefined);
});

Deno.test("state machine: a bad tag command is refused and changes nothing", () => {
  const driver = new Driver();
  driver.create("q", { tags: manyTags(tagLimits.tagsMax) });
  const before = driver.machine.getQueue("q", driver.now);
  const refused = [
    driver.update("q", {}, { set: { extra: "1" } }),
    driver.update("q", { maxBacklog: 5 }, { set: { "bad,key": "1" } }),
    driver.update("q", { tags: manyTags(tagLimits.tagsMax + 1) }),
    driver.apply(
      CommandType.UpdateQueue,
      utf8.encode(JSON.stringify({ queue: "q", attributes: {}, tagChanges: { set: [] } })),
    ),
  ];
  for (const result of refused) {
    assert.ok(result instanceof BrokerError, String(result));
    assert.equal(result.code, "InvalidParameter");
  }
  assert.deepEqual(driver.machine.getQueue("q", driver.now), before);
});

Deno.test("state machine: a create names the same queue only with the same tags, if it names any", () => {
  const driver = new Driver();
  driver.create("q", { tags: { env: "prod", team: "a" } });
  const view = driver.machine.getQueue("q", driver.now);
  const same = { created: false, queue: view };
  assert.deepEqual(driver.create("q", { tags: { team: "a", env: "prod" } }), same);
  assert.deepEqual(driver.create("q", {}), same, "no tags: any tags match");
  assert.deepEqual(driver.create("q", { tags: {} }), same);
  const others: Record<string, string>[] = [{ env: "dev", team: "a" }, { env: "prod" }, { x: "y" }];
  for (const tags of others) {
    const conflict = driver.create("q", { tags });
    assert.ok(conflict instanceof BrokerError && conflict.code === "QueueAlreadyExists");
  }
  driver.create("plain", {});
  const conflict = driver.create("plain", { tags: { env: "prod" } });
  assert.ok(conflict instanceof BrokerError && conflict.code === "QueueAlreadyExists");
  assert.equal(driver.tags("plain"), undefined, "a refused create does not tag");
});

Deno.test("state machine: tags survive a snapshot and its restore", () => {
  const driver = new Driver();
  driver.create("q", { tags: { env: "prod", "Cost Centre": "" } });
  driver.update("q", {}, { set: { owner: "𠀀" } });
  driver.create("plain", {});
  const copy = StateMachine.restore(driver.machine.snapshot());
  assert.deepEqual(copy.getQueue("q", driver.now)?.tags, {
    "Cost Centre": "",
    env: "prod",
    owner: "𠀀",
  });
  assert.deepEqual(copy.getQueue("q", driver.now), driver.machine.getQueue("q", driver.now));
  assert.equal(copy.getQueue("plain", driver.now)?.tags, undefined);
  assert.deepEqual(copy.snapshot(), driver.machine.snapshot());
});

// Written by the engine before queues had tags (a DLQ, a queue with a dead-letter update, one
// message): the formats must still read, and a machine without tags must write the same bytes.
const oldCreateDlq = '{"queue":"dlq","attributes":{"visibilityTimeoutSeconds":30,' +
  '"pollingWaitSeconds":0,"maxMessageBytes":65536,"retentionSeconds":345600,"rewindSeconds":0,' +
  '"maxBacklog":100000000,"fifo":false},"salt":8}';
const oldCreateJobs = '{"queue":"jobs","attributes":{"visibilityTimeoutSeconds":45,' +
  '"pollingWaitSeconds":0,"maxMessageBytes":65536,"retentionSeconds":345600,"rewindSeconds":0,' +
  '"maxBacklog":100000000,"fifo":false},"salt":7}';
const oldUpdateJobs =
  '{"queue":"jobs","attributes":{"maxBacklog":500,"deadLetter":{"queue":"dlq","maxReceiveCount":3}}}';
const oldSnapshotBase64 = [
  "Q01RUwEAAAAAAAAQQAAA/Vb+vHhCAgAAAAMAZGxxAAAAAAAA8D8IAAAAngAAAHsidmlzaWJpbGl0eVRpbWVvdXRT",
  "ZWNvbmRzIjozMCwicG9sbGluZ1dhaXRTZWNvbmRzIjowLCJtYXhNZXNzYWdlQnl0ZXMiOjY1NTM2LCJyZXRlbnRp",
  "b25TZWNvbmRzIjozNDU2MDAsInJld2luZFNlY29uZHMiOjAsIm1heEJhY2tsb2ciOjEwMDAwMDAwMCwiZmlmbyI6",
  "ZmFsc2V9AACAVv68eEIAAIBW/rx4QgAAAAAAAPA/AAAAAAAA8D8BAAAAAAAAAAAAAPC/AAAAAAAAAAAAAAAAAAAA",
  "AAAAAAAAAAAAAAAAAAAA8D8AAAAAAADwPwAAAAAEAGpvYnMAAAAAAAAAQAcAAADJAAAAeyJ2aXNpYmlsaXR5VGlt",
  "ZW91dFNlY29uZHMiOjQ1LCJwb2xsaW5nV2FpdFNlY29uZHMiOjAsIm1heE1lc3NhZ2VCeXRlcyI6NjU1MzYsInJl",
  "dGVudGlvblNlY29uZHMiOjM0NTYwMCwicmV3aW5kU2Vjb25kcyI6MCwibWF4QmFja2xvZyI6NTAwLCJmaWZvIjpm",
  "YWxzZSwiZGVhZExldHRlciI6eyJxdWV1ZSI6ImRscSIsIm1heFJlY2VpdmVDb3VudCI6M319AACAVv68eEIAgL5W",
  "/rx4QgAAAAAAAPA/AAAAAAAAAEABAQAAAAAAAAAAAPA/AAAAAAAAEEAAAP1W/rx4QgAAAAAAAAAA8D8AAAAAAAAA",
  "AAAAAAAAAAAAAAAAAAAA8D8AAAAAAADwPwAAAAAAAPA/AAAAAAAAAAA=",
].join("");
const oldJobsView = {
  name: "jobs",
  visibilityTimeoutSeconds: 45,
  pollingWaitSeconds: 0,
  maxMessageBytes: 65536,
  retentionSeconds: 345600,
  rewindSeconds: 0,
  maxBacklog: 500,
  fifo: false,
  deadLetter: { queue: "dlq", maxReceiveCount: 3 },
  createdAt: 1700000000000,
  modifiedAt: 1700000001000,
  activeMessages: 1,
  inflightMessages: 0,
  delayedMessages: 0,
  rewindableMessages: 0,
  oldestMessageAt: 1700000002000,
};

Deno.test("commands and snapshots written before tags decode as before, and encode the same", () => {
  const oldSnapshot = Uint8Array.from(atob(oldSnapshotBase64), (char) => char.charCodeAt(0));
  const restored = StateMachine.restore(oldSnapshot);
  assert.deepEqual(restored.getQueue("jobs", 1_700_000_003_000), oldJobsView);
  // The same bytes, but for what topics changed: snapshots are version 2 now, with the topics
  // section (here: none, a zero count) appended after everything version 1 had.
  const asVersion2 = Uint8Array.from([...oldSnapshot, 0, 0, 0, 0]);
  asVersion2[4] = 2;
  assert.deepEqual(restored.snapshot(), asVersion2, "a machine without tags writes old bytes");

  const machine = new StateMachine();
  const at = 1_700_000_000_000;
  const apply = (index: number, timestamp: number, type: number, json: string) =>
    machine.apply({ index, timestamp, type, payload: utf8.encode(json) });
  const answer = (result: unknown) => {
    const { queue, ...rest } = result as { queue: Queue };
    return { ...rest, name: queue.name, modifiedAt: queue.modifiedAt };
  };
  const created = { created: true, name: "dlq", modifiedAt: at };
  assert.deepEqual(answer(apply(1, at, CommandType.CreateQueue, oldCreateDlq)), created);
  const jobs = { created: true, name: "jobs", modifiedAt: at };
  assert.deepEqual(answer(apply(2, at, CommandType.CreateQueue, oldCreateJobs)), jobs);
  const updated = answer(apply(3, at + 1000, CommandType.UpdateQueue, oldUpdateJobs));
  assert.deepEqual(updated, { updated: true, name: "jobs", modifiedAt: at + 1000 });
  const view = machine.getQueue("jobs", at + 3000);
  assert.deepEqual(view, { ...oldJobsView, activeMessages: 0, oldestMessageAt: null });
  assert.equal(
    new TextDecoder().decode(encodeCreateQueue({
      queue: "jobs",
      attributes: resolveCreate({ visibilityTimeoutSeconds: 45 }),
      salt: 7,
    })),
    oldCreateJobs,
    "a create without tags is encoded as before",
  );
  assert.equal(
    new TextDecoder().decode(encodeUpdateQueue({
      queue: "jobs",
      attributes: { maxBacklog: 500, deadLetter: { queue: "dlq", maxReceiveCount: 3 } },
    })),
    oldUpdateJobs,
  );
});
