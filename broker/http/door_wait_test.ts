/**
 * How long a receive waits on each door, when it names no wait, a wait of 0, the longest wait and
 * one beyond it: absent is the queue's default, set through that door's own attribute (v1
 * `pollingWaitSeconds`, CMQ's queue `pollingWaitSeconds`, SQS `ReceiveMessageWaitTimeSeconds`);
 * 0 answers at once and parks nothing, even on a queue whose default is a long poll; 30 waits
 * 30 s. Beyond 30, v1 and SQS refuse and change nothing, CMQ cuts it to 30 (old Java SDKs send
 * 30000). Through the real app on a real port, the engine on a manual clock (no timing: the
 * test moves the clock and looks at what is parked).
 */
import assert from "node:assert/strict";
import { BrokerError } from "../engine/mod.ts";
import { memoryEngine } from "../cluster/testing/mod.ts";
import { keyRingOf, secretOf } from "./_access_fixtures.ts";
import { AccessGuard } from "./access_guard.ts";
import { createApp } from "./app.ts";
import { CmqTestClient } from "./cmq_v2/_cmq_test_client.ts";
import { Metrics } from "./metrics.ts";
import { signedForm } from "./sqs/_signed_form.ts";
import { FakeStatus } from "./testing/mod.ts";

const alice = { secretId: "alice", secretKey: secretOf("alice") };

async function servedApp() {
  const engine = memoryEngine();
  const app = createApp({
    service: engine.broker,
    status: new FakeStatus(),
    metrics: new Metrics(),
    access: new AccessGuard({
      keyRing: await keyRingOf({ alice: ["*"] }),
      loopbackOnly: false,
      nowMs: () => Date.now(),
    }),
  });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request, info) => app.fetch(request, info),
  );
  return {
    ...engine,
    url: `http://127.0.0.1:${server.addr.port}`,
    async [Symbol.asyncDispose]() {
      await app.close();
      engine.broker.close();
      await server.shutdown();
    },
  };
}

type Served = Awaited<ReturnType<typeof servedApp>>;

/** What a door's receive answered: its HTTP status and whether it carried a message. */
interface Answer {
  status: number;
  text: string;
}

/** A door: how it makes a queue whose default wait is `seconds`, and how it receives. */
interface Door {
  create(served: Served, queue: string, seconds: number): Promise<void>;
  /** `wait` undefined: the receive names none. */
  receive(served: Served, queue: string, wait: number | undefined): Promise<Answer>;
  /** Checks the answer to a wait past 30 s, or null when the door takes it as 30. */
  beyondMax: ((answer: Answer) => void) | null;
}

const v1: Door = {
  async create(served, queue, seconds) {
    await served.broker.createQueue(queue, { pollingWaitSeconds: seconds });
  },
  async receive(served, queue, wait) {
    const response = await fetch(`${served.url}/v1/queues/${queue}/messages/receive`, {
      method: "POST",
      headers: {
        authorization: `Bearer alice:${secretOf("alice")}`,
        "content-type": "application/json",
      },
      body: JSON.stringify(wait === undefined ? {} : { waitSeconds: wait }),
    });
    return { status: response.status, text: await response.text() };
  },
  beyondMax(answer) {
    assert.equal(answer.status, 400, answer.text);
    assert.match(answer.text, /waitSeconds/);
  },
};

function cmqClient(served: Served): CmqTestClient {
  return new CmqTestClient({
    handler: (request) => fetch(request),
    credentials: alice,
    host: new URL(served.url).host,
  });
}

const cmq: Door = {
  async create(served, queue, seconds) {
    const reply = await cmqClient(served).call("CreateQueue", {
      queueName: queue,
      pollingWaitSeconds: seconds,
    });
    assert.equal((reply.body as { code: number }).code, 0, JSON.stringify(reply.body));
  },
  async receive(served, queue, wait) {
    const reply = await cmqClient(served).call(
      "ReceiveMessage",
      wait === undefined ? { queueName: queue } : { queueName: queue, pollingWaitSeconds: wait },
    );
    return { status: reply.status, text: JSON.stringify(reply.body) };
  },
  beyondMax: null,
};

function sqsCall(served: Served, action: string, input: Record<string, unknown>) {
  return signedForm(served.url, alice, {
    headers: {
      "x-amz-target": `AmazonSQS.${action}`,
      "content-type": "application/x-amz-json-1.0",
    },
    body: JSON.stringify(input),
  });
}

const sqs: Door = {
  async create(served, queue, seconds) {
    const answer = await sqsCall(served, "CreateQueue", {
      QueueName: queue,
      Attributes: { ReceiveMessageWaitTimeSeconds: String(seconds) },
    });
    assert.equal(answer.status, 200, answer.text);
  },
  receive(served, queue, wait) {
    const QueueUrl = `${served.url}/000000000000/${queue}`;
    return sqsCall(
      served,
      "ReceiveMessage",
      wait === undefined ? { QueueUrl } : { QueueUrl, WaitTimeSeconds: wait },
    );
  },
  beyondMax(answer) {
    assert.equal(answer.status, 400, answer.text);
    assert.match(answer.text, /WaitTimeSeconds/);
  },
};

/** Waits (bounded, not timed) until `count` receives are parked. */
async function parked(served: Served, count: number): Promise<void> {
  for (let turn = 0; turn < 1_000 && served.broker.parkedReceivers !== count; turn++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.equal(served.broker.parkedReceivers, count);
}

/** Parks a receive, checks it is still parked a millisecond before `seconds`, then answered. */
async function waitsExactly(served: Served, answer: Promise<Answer>, seconds: number) {
  let done = false;
  const answered = answer.finally(() => (done = true));
  await parked(served, 1);
  served.clock.advance(seconds * 1000 - 1);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(served.broker.parkedReceivers, 1, `answered before ${seconds} s`);
  assert.equal(done, false);
  served.clock.advance(1);
  const { status, text } = await answered;
  assert.equal(status, 200, text);
  assert.equal(served.broker.parkedReceivers, 0);
}

for (const [name, door] of [["v1", v1], ["CMQ", cmq], ["SQS", sqs]] as const) {
  Deno.test(`${name}: a receive waits the queue's default, 0, 30 s, and past 30 s as documented`, async () => {
    await using served = await servedApp();
    await door.create(served, "slow", 10);
    await door.create(served, "quick", 0);
    // No wait named: the queue's default, 10 s here.
    await waitsExactly(served, door.receive(served, "slow", undefined), 10);
    // No wait named on a queue whose default is 0: answered at once.
    const quick = await door.receive(served, "quick", undefined);
    assert.equal(quick.status, 200, quick.text);
    // 0 on a queue whose default is 10 s: answered at once, nothing parked.
    const zero = await door.receive(served, "slow", 0);
    assert.equal(zero.status, 200, zero.text);
    assert.equal(served.broker.parkedReceivers, 0);
    // The longest wait, on a queue whose default is 0.
    await waitsExactly(served, door.receive(served, "quick", 30), 30);
    // Beyond it.
    const beyond = door.receive(served, "quick", 31);
    if (door.beyondMax === null) await waitsExactly(served, beyond, 30);
    else {
      door.beyondMax(await beyond);
      assert.equal(served.broker.parkedReceivers, 0);
    }
    // A message sent meanwhile is there for a receive of any wait.
    await served.broker.sendMessages("slow", [{ body: "m" }]);
    const got = await door.receive(served, "slow", undefined);
    assert.equal(got.status, 200, got.text);
    assert.match(got.text, /"m"/);
  });
}

/** How each door answers a long poll whose node stopped leading (a retryable error). */
const noLeader: Record<string, (answer: Answer) => void> = {
  v1(answer) {
    assert.equal(answer.status, 503, answer.text);
    assert.equal(JSON.parse(answer.text).error.code, "NoLeader");
  },
  CMQ(answer) {
    const body = JSON.parse(answer.text);
    assert.equal(body.code, 6000, answer.text); // the code CMQ's SDK users retry on
    assert.match(body.message, /the leader is n2/);
  },
  SQS(answer) {
    assert.equal(answer.status, 503, answer.text);
    assert.match(answer.text, /ServiceUnavailable/);
  },
};

for (const [name, door] of [["v1", v1], ["CMQ", cmq], ["SQS", sqs]] as const) {
  Deno.test(`${name}: a long poll parked on a node that stops leading is answered at once, not at its deadline`, async () => {
    await using served = await servedApp();
    await door.create(served, "jobs", 30);
    const poll = door.receive(served, "jobs", undefined);
    await parked(served, 1);
    // What the node does when its replica stops leading (node.ts); the clock does not move.
    served.broker.failParked(new BrokerError("NoLeader", "not the leader; the leader is n2"));
    noLeader[name](await poll);
    assert.equal(served.broker.parkedReceivers, 0);
    served.broker.wakeAll(); // it leads again: receives park again
    const again = door.receive(served, "jobs", undefined);
    await parked(served, 1);
    await served.broker.sendMessages("jobs", [{ body: "m" }]);
    assert.match((await again).text, /"m"/);
  });
}
