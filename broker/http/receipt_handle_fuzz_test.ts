/**
 * Receipt handles, generated, on every door's deletes and visibility changes: real handles of
 * the queue named, of another queue (standard or FIFO), of another door, garbled (a character
 * changed, cut, grown), and base64 of random bytes. Each answer is below 500 with nothing
 * logged, in the door's shape, a refusal writes nothing (`_door_fuzz.ts`); and whatever the
 * answer, the messages of a queue the request did not name stay as they were.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { fuzzNode, requestOf, type RequestParts, runs, showParts } from "./_door_fuzz.ts";

type Node = ReturnType<typeof fuzzNode>;

const origin = "http://127.0.0.1:8080";
const queues = ["jobs", "other", "orders"] as const;
type QueueName = typeof queues[number];

const json = (): [string, string][] => [["content-type", "application/json"]];

/** Receives from `queue` through `door`, answering the handles (the message stays locked). */
async function receiveHandles(node: Node, door: string, queue: QueueName): Promise<string[]> {
  let parts: RequestParts;
  if (door === "v1") {
    parts = {
      method: "POST",
      path: `/v1/queues/${queue}/messages/receive`,
      headers: json(),
      body: JSON.stringify({ maxMessages: 2, waitSeconds: 0 }),
    };
  } else if (door === "cmq") {
    parts = {
      method: "POST",
      path: "/v2/index.php",
      headers: [],
      body: `Action=BatchReceiveMessage&queueName=${queue}&numOfMsg=2&pollingWaitSeconds=0`,
    };
  } else {
    parts = sqs("ReceiveMessage", { QueueUrl: urlOf(queue), MaxNumberOfMessages: 2 });
  }
  const answer = await node.send(requestOf(parts));
  assert.equal(answer.status, 200, answer.text);
  const body = JSON.parse(answer.text);
  const messages: Record<string, string>[] = body.messages ?? body.msgInfoList ?? body.Messages ??
    [];
  return messages.map((message) => message.receiptHandle ?? message.ReceiptHandle);
}

const urlOf = (queue: string) =>
  `${origin}/000000000000/${queue === "orders" ? "orders.fifo" : queue}`;

function sqs(operation: string, input: unknown): RequestParts {
  return {
    method: "POST",
    path: "/",
    headers: [["content-type", "application/x-amz-json-1.0"], [
      "x-amz-target",
      `AmazonSQS.${operation}`,
    ]],
    body: JSON.stringify(input),
  };
}

/** A delete or visibility change of `handle` in `queue` through `door`. */
function consume(door: string, what: string, queue: QueueName, handle: string): RequestParts {
  const cmqQueue = queue;
  if (door === "v1") {
    const body = what === "delete"
      ? { receiptHandles: [handle] }
      : { entries: [{ receiptHandle: handle, visibilityTimeoutSeconds: 5 }] };
    return {
      method: "POST",
      path: `/v1/queues/${queue}/messages/${what === "delete" ? "delete" : "visibility"}`,
      headers: json(),
      body: JSON.stringify(body),
    };
  }
  if (door === "cmq") {
    const params = new URLSearchParams(
      what === "delete"
        ? { Action: "DeleteMessage", queueName: cmqQueue, receiptHandle: handle }
        : { Action: "BatchDeleteMessage", queueName: cmqQueue, "receiptHandle.0": handle },
    );
    return { method: "POST", path: "/v2/index.php", headers: [], body: params.toString() };
  }
  const QueueUrl = urlOf(queue);
  return what === "delete"
    ? sqs("DeleteMessage", { QueueUrl, ReceiptHandle: handle })
    : what === "visibility"
    ? sqs("ChangeMessageVisibility", { QueueUrl, ReceiptHandle: handle, VisibilityTimeout: 5 })
    : sqs("DeleteMessageBatch", { QueueUrl, Entries: [{ Id: "a", ReceiptHandle: handle }] });
}

/** A handle changed: one character replaced, cut short, grown, or its base64 re-padded. */
function garble(handle: string, how: number, at: number): string {
  const index = handle.length === 0 ? 0 : at % handle.length;
  switch (how % 5) {
    case 0: {
      const code = handle.charCodeAt(index);
      const replaced = String.fromCharCode(code === 65 ? 66 : 65);
      return handle.slice(0, index) + replaced + handle.slice(index + 1);
    }
    case 1:
      return handle.slice(0, index);
    case 2:
      return handle + handle.slice(0, 8);
    case 3:
      return handle.replace(/=+$/, "") + "==";
    default:
      return handle.replace(/[+/]/g, (c) => (c === "+" ? "-" : "_"));
  }
}

const randomBase64 = fc.uint8Array({ minLength: 0, maxLength: 96 }).map((bytes) =>
  btoa(String.fromCharCode(...bytes))
);

/** The counts of a queue's messages: what a delete or lock in it would change. */
async function countsOf(node: Node, queue: QueueName) {
  const { activeMessages, inflightMessages, delayedMessages } = await node.broker.getQueue(queue);
  return { activeMessages, inflightMessages, delayedMessages };
}

Deno.test("receipt handles real, foreign, garbled and random: refused cleanly or served", async () => {
  await using node = fuzzNode();
  const setup: RequestParts[] = [
    { method: "PUT", path: "/v1/queues/jobs", headers: json(), body: "{}" },
    { method: "PUT", path: "/v1/queues/other", headers: json(), body: "{}" },
    { method: "PUT", path: "/v1/queues/orders", headers: json(), body: '{"fifo":true}' },
  ];
  for (const parts of setup) assert.ok((await node.send(requestOf(parts))).status < 300);
  /** Fills each queue with messages to receive (groups `a`…`z` in the FIFO queue). */
  let group = 0;
  const refill = async () => {
    for (const queue of queues) {
      const messages = Array.from({ length: 6 }, () => ({
        body: "m",
        ...(queue === "orders" ? { groupId: `g${group++}` } : {}),
      }));
      const answer = await node.send(requestOf({
        method: "POST",
        path: `/v1/queues/${queue}/messages`,
        headers: json(),
        body: JSON.stringify({ messages }),
      }));
      assert.equal(answer.status, 200, answer.text);
    }
  };
  await refill();
  const handles = new Map<string, string[]>();
  for (const door of ["v1", "cmq", "sqs"]) {
    for (const queue of queues) {
      handles.set(`${door} ${queue}`, await receiveHandles(node, door, queue));
    }
  }
  const sources = [...handles.keys()].filter((source) => handles.get(source)!.length > 0);
  assert.ok(sources.length >= 6, JSON.stringify([...handles]));

  const cases = fc.record({
    door: fc.constantFrom("v1", "cmq", "sqs"),
    what: fc.constantFrom("delete", "visibility", "batch"),
    target: fc.constantFrom(...queues),
    source: fc.constantFrom(...sources),
    index: fc.nat(),
    handle: fc.oneof(
      { weight: 3, arbitrary: fc.constant("real") },
      { weight: 3, arbitrary: fc.tuple(fc.nat(), fc.nat()).map(([how, at]) => ({ how, at })) },
      { weight: 2, arbitrary: randomBase64 },
    ),
  });
  await fc.assert(
    fc.asyncProperty(cases, async (generated) => {
      const [, sourceQueue] = generated.source.split(" ") as [string, QueueName];
      const pool = handles.get(generated.source)!;
      const real = pool[generated.index % pool.length];
      const handle = generated.handle === "real"
        ? real
        : typeof generated.handle === "string"
        ? generated.handle
        : garble(real, generated.handle.how, generated.handle.at);
      const parts = consume(generated.door, generated.what, generated.target, handle);
      const others = queues.filter((queue) => queue !== generated.target);
      const before = await Promise.all(others.map((queue) => countsOf(node, queue)));
      await node.check(requestOf(parts), `${showParts(parts)} (from ${generated.source})`);
      const after = await Promise.all(others.map((queue) => countsOf(node, queue)));
      assert.deepEqual(
        after,
        before,
        `a handle of ${sourceQueue} changed a queue it did not name: ${showParts(parts)}`,
      );
    }),
    runs(0x5eed41, 300),
  );
});
