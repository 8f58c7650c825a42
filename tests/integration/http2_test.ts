/**
 * HTTP/2 on the client port of real `main.ts` processes, from a real HTTP/2 client (`node:http2`,
 * see `_http2.ts`): h2c with prior knowledge on plain TCP and h2 by ALPN over TLS. With
 * credentials, the v1 API (signed requests), the CMQ door and the SQS door (SigV4, whose `host`
 * is the `:authority` under h2) run end to end over ONE connection; many long polls parked on
 * that connection hold up none of its sends; a long poll whose stream the client resets is
 * released at once and locks nothing; a body over the bound streamed in DATA frames without a
 * `content-length` gets a precise 413 and stores nothing, and one that never ends holds up no
 * other stream; a follower forwards h2 requests to the leader.
 */
import assert from "node:assert/strict";
import { hasOpenssl, makeCertificates } from "../../broker/testing.ts";
import { CmqTestClient } from "../../broker/http/cmq_v2/_cmq_test_client.ts";
import { signedForm } from "../../broker/http/sqs/_signed_form.ts";
import { CmqdClient } from "../../sdk/mod.ts";
import { connectHttp2, type Http2Connection } from "./_http2.ts";
import {
  type BrokerProcess,
  clusterPorts,
  eventually,
  startBroker,
  startBrokers,
} from "./process.ts";

const admin = { secretId: "AKIDadmin", secretKey: "s3cret" };
const bearer = `Bearer ${admin.secretId}:${admin.secretKey}`;

async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "cmqd-h2-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function writeCredentials(dir: string): Promise<string> {
  const path = `${dir}/credentials.json`;
  await Deno.writeTextFile(path, JSON.stringify({ keys: [{ ...admin, allow: ["*"] }] }));
  await Deno.chmod(path, 0o600);
  return path;
}

/** Messages a queue holds: visible, locked or delayed. */
async function stored(client: CmqdClient, queue: string): Promise<number> {
  const { activeMessages, inflightMessages, delayedMessages } = await client.getQueue(queue);
  return activeMessages + inflightMessages + delayedMessages;
}

/** The broker's `cmqd_parked_receives` gauge (read over HTTP/1.1). */
async function parkedReceives(url: string, fetchFunction: typeof fetch = fetch): Promise<number> {
  const response = await fetchFunction(`${url}/metrics`, { headers: { authorization: bearer } });
  const text = await response.text();
  const match = text.match(/^cmqd_parked_receives (\d+)$/m);
  assert.ok(match !== null, `no cmqd_parked_receives in:\n${text.slice(0, 500)}`);
  return Number(match[1]);
}

/** Waits until `count` receives are parked on the broker at `url`. */
async function parked(url: string, count: number, fetchFunction?: typeof fetch): Promise<void> {
  await eventually(
    `${count} parked receives`,
    async () => (await parkedReceives(url, fetchFunction)) === count ? true : undefined,
    20_000,
  );
}

/** The leader every broker names (asked with credentials). */
/** Three nodes on loopback with the test's credentials file. */
async function startCredentialedCluster(
  dir: string,
): Promise<{ specs: { id: string }[]; brokers: BrokerProcess[] }> {
  const credentials = await writeCredentials(dir);
  const { specs, peers } = clusterPorts(["n1", "n2", "n3"]);
  const brokers = await startBrokers(specs.map((spec) => ({
    dataDir: `${dir}/${spec.id}`,
    port: spec.port,
    args: [
      "--node-id",
      spec.id,
      "--peer-port",
      String(spec.peerPort),
      "--peers",
      peers,
      "--credentials",
      credentials,
    ],
  })));
  return { specs, brokers };
}

async function leaderOf(brokers: BrokerProcess[]): Promise<string> {
  return await eventually("one leader every node names", async () => {
    const views = await Promise.all(brokers.map(async (broker) => {
      const response = await fetch(`${broker.url}/v1/cluster`, {
        headers: { authorization: bearer },
      });
      return (await response.json()).leaderId as string | null;
    }));
    return views[0] !== null && views.every((view) => view === views[0]) ? views[0] : undefined;
  });
}

/** An SQS JSON-protocol call signed with SigV4, sent with `fetchFunction`. */
async function sqsCall(
  endpoint: string,
  fetchFunction: typeof fetch,
  target: string,
  input: Record<string, unknown>,
  signal?: AbortSignal,
) {
  const { status, text } = await signedForm(endpoint, admin, {
    body: JSON.stringify(input),
    headers: {
      "x-amz-target": `AmazonSQS.${target}`,
      "content-type": "application/x-amz-json-1.0",
    },
    fetch: fetchFunction,
    signal,
  });
  // deno-lint-ignore no-explicit-any
  return { status, body: JSON.parse(text) as Record<string, any> };
}

/**
 * The v1 API, the CMQ door and the SQS door end to end (create, send, receive, delete), every
 * request signed and sent as a stream of `h2`; `names` makes the queue names unique per run.
 */
async function doorsEndToEnd(url: string, h2: Http2Connection, names: string): Promise<void> {
  const v1 = new CmqdClient({ baseUrl: url, credentials: admin, fetch: h2.fetch });
  await v1.createQueue(`${names}-v1`);
  await v1.sendMessages(`${names}-v1`, [{ body: "over h2" }, { body: "é 中 ✓".repeat(2000) }]);
  const received = await v1.receiveMessages(`${names}-v1`, { waitSeconds: 0, maxMessages: 10 });
  assert.deepEqual(received.messages.map((message) => message.body).sort(), [
    "over h2",
    "é 中 ✓".repeat(2000),
  ]);
  const deleted = await v1.deleteMessages(
    `${names}-v1`,
    received.messages.map((message) => message.receiptHandle),
  );
  assert.deepEqual(deleted, { deleted: 2, failures: [] });
  assert.equal(await stored(v1, `${names}-v1`), 0);
  await v1.deleteQueue(`${names}-v1`);

  const host = new URL(url).host;
  const cmq = new CmqTestClient({ handler: h2.fetch, host, credentials: admin });
  const queueName = `${names}-cmq`;
  assert.equal((await cmq.call("CreateQueue", { queueName })).body.code, 0);
  assert.equal((await cmq.call("SendMessage", { queueName, msgBody: "cmq over h2" })).body.code, 0);
  const cmqReceived = await cmq.call("ReceiveMessage", { queueName, pollingWaitSeconds: 0 });
  assert.equal(cmqReceived.body.msgBody, "cmq over h2", JSON.stringify(cmqReceived.body));
  const cmqDeleted = await cmq.call("DeleteMessage", {
    queueName,
    receiptHandle: cmqReceived.body.receiptHandle,
  });
  assert.equal(cmqDeleted.body.code, 0, JSON.stringify(cmqDeleted.body));
  assert.equal((await cmq.call("DeleteQueue", { queueName })).body.code, 0);
  // Signed for another host than the :authority it is sent under: refused (4100).
  const elsewhere = new CmqTestClient({
    handler: (request) =>
      h2.fetch(request.url.replace(host, `localhost:${new URL(url).port}`), request),
    host,
    credentials: admin,
  });
  assert.equal((await elsewhere.call("ListQueue", {})).body.code, 4100);

  const created = await sqsCall(url, h2.fetch, "CreateQueue", { QueueName: `${names}-sqs` });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const QueueUrl = created.body.QueueUrl;
  assert.equal(new URL(QueueUrl).host, host, "the queue URL names the :authority");
  const sent = await sqsCall(url, h2.fetch, "SendMessage", { QueueUrl, MessageBody: "sqs h2" });
  assert.equal(sent.status, 200, JSON.stringify(sent.body));
  const sqsReceived = await sqsCall(url, h2.fetch, "ReceiveMessage", {
    QueueUrl,
    WaitTimeSeconds: 0,
  });
  assert.deepEqual(sqsReceived.body.Messages?.map((each: { Body: string }) => each.Body), [
    "sqs h2",
  ]);
  const sqsDeleted = await sqsCall(url, h2.fetch, "DeleteMessage", {
    QueueUrl,
    ReceiptHandle: sqsReceived.body.Messages[0].ReceiptHandle,
  });
  assert.equal(sqsDeleted.status, 200, JSON.stringify(sqsDeleted.body));
  const after = await sqsCall(url, h2.fetch, "GetQueueAttributes", {
    QueueUrl,
    AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
  });
  assert.deepEqual(after.body.Attributes, {
    ApproximateNumberOfMessages: "0",
    ApproximateNumberOfMessagesNotVisible: "0",
  });
  // The :authority is what SigV4's `host` is checked against: another one is refused.
  const otherAuthority: typeof fetch = (input, init) =>
    h2.fetch(String(input).replace(host, `localhost:${new URL(url).port}`), init);
  const refused = await sqsCall(url, otherAuthority, "ListQueues", {});
  assert.equal(refused.status, 403, JSON.stringify(refused.body));
  assert.equal(refused.body.__type, "com.amazon.coral.service#SignatureDoesNotMatch");
  await sqsCall(url, h2.fetch, "DeleteQueue", { QueueUrl });
}

/**
 * A long poll of each door whose stream the client resets is released at once: the broker's
 * parked count drops to 0, and a message sent afterwards goes to the next receiver at once
 * (a poll left parked would take it and hide it for the visibility timeout).
 */
async function cancelledPollsRelease(url: string, h2: Http2Connection): Promise<void> {
  const v1 = new CmqdClient({ baseUrl: url, credentials: admin, fetch: h2.fetch });
  const other = new CmqdClient({ baseUrl: url, credentials: admin, fetch: h2.fetch });
  const doors: [string, (signal: AbortSignal) => Promise<unknown>][] = [
    ["v1", (signal) => v1.receiveMessages("cancel-v1", { waitSeconds: 20 }, { signal })],
    ["cmq", (signal) =>
      new CmqTestClient({
        handler: (request) => h2.fetch(new Request(request, { signal })),
        host: new URL(url).host,
        credentials: admin,
      }).call("ReceiveMessage", { queueName: "cancel-v1", pollingWaitSeconds: 20 })],
    ["sqs", async (signal) => {
      const QueueUrl = `${url}/000000000000/cancel-v1`;
      return await sqsCall(
        url,
        h2.fetch,
        "ReceiveMessage",
        { QueueUrl, WaitTimeSeconds: 20 },
        signal,
      );
    }],
  ];
  await v1.createQueue("cancel-v1", { visibilityTimeoutSeconds: 3600 });
  for (const [door, receive] of doors) {
    const controller = new AbortController();
    const poll = receive(controller.signal);
    await parked(url, 1, h2.fetch);
    controller.abort();
    await assert.rejects(poll, /abort/i, `${door}: the poll ends with the abort`);
    await parked(url, 0, h2.fetch);
    await v1.sendMessages("cancel-v1", [{ body: `after ${door}'s cancel` }]);
    const { messages } = await other.receiveMessages("cancel-v1", { waitSeconds: 0 });
    assert.deepEqual(messages.map((message) => message.body), [`after ${door}'s cancel`], door);
    await other.deleteMessages("cancel-v1", messages.map((message) => message.receiptHandle));
  }
}

Deno.test("h2c with prior knowledge: the doors signed over one connection, concurrent long polls, resets and body limits", async () => {
  await withTempDir(async (dir) => {
    const broker = await startBroker({
      dataDir: `${dir}/d`,
      args: ["--credentials", await writeCredentials(dir)],
    });
    let h2: Http2Connection | null = null;
    try {
      h2 = await connectHttp2(broker.url);
      await doorsEndToEnd(broker.url, h2, "plain");

      // The stream limit the README names.
      assert.equal(h2.session.remoteSettings.maxConcurrentStreams, 200);
      // 50 long polls parked on the one connection; sends on it are not held up behind them,
      // and each poll gets at most what it asked for.
      const client = new CmqdClient({ baseUrl: broker.url, credentials: admin, fetch: h2.fetch });
      await client.createQueue("many");
      const polls = Array.from(
        { length: 50 },
        () => client.receiveMessages("many", { waitSeconds: 10, maxMessages: 1 }),
      );
      await parked(broker.url, 50);
      for (let index = 0; index < 20; index++) {
        await client.sendMessages("many", [{ body: `m${index}` }]);
      }
      // The sends were answered while the polls stayed on the connection: 30 are still parked.
      assert.equal(await parkedReceives(broker.url), 30);
      const answers = await Promise.all(polls);
      const bodies = answers.flatMap((answer) => answer.messages.map((message) => message.body));
      assert.equal(bodies.length, 20);
      assert.equal(new Set(bodies).size, 20);
      assert.ok(answers.every((answer) => answer.messages.length <= 1));

      await cancelledPollsRelease(broker.url, h2);

      // A body over the bound, in DATA frames, no content-length: 413, nothing stored.
      await client.createQueue("big");
      const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
      const total = 5 * 1024 * 1024;
      let pulled = 0;
      const body = new ReadableStream<Uint8Array>({
        start: (controller) =>
          controller.enqueue(new TextEncoder().encode('{"messages":[{"body":"')),
        pull(controller) {
          if (pulled >= total) {
            controller.enqueue(new TextEncoder().encode('"}]}'));
            controller.close();
          } else {
            pulled += chunk.length;
            controller.enqueue(chunk);
          }
        },
      });
      const tooLarge = await h2.fetch(`${broker.url}/v1/queues/big/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: bearer },
        body,
      });
      assert.equal(tooLarge.status, 413);
      const error = await tooLarge.json();
      assert.equal(error.error.code, "RequestTooLarge");
      assert.match(error.error.message, /request body exceeds \d+ bytes/);
      assert.equal(await stored(client, "big"), 0);

      // A body that never ends holds up no other stream of its connection; resetting it frees it.
      const neverEnds = new AbortController();
      const hanging = h2.fetch(`${broker.url}/v1/queues/big/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: bearer },
        body: new ReadableStream<Uint8Array>({
          start: (controller) => controller.enqueue(new TextEncoder().encode('{"messages":[')),
        }),
        signal: neverEnds.signal,
      });
      await client.sendMessages("big", [{ body: "beside the hanging body" }]);
      const { messages } = await client.receiveMessages("big", { waitSeconds: 0 });
      assert.deepEqual(messages.map((message) => message.body), ["beside the hanging body"]);
      neverEnds.abort();
      await assert.rejects(hanging);
      assert.equal(await stored(client, "big"), 1, "the hanging body stored nothing");
      // Headers over the server's header-list bound (16 KiB; curl is answered 431): the stream is
      // refused, nothing is done, and the connection goes on serving.
      await assert.rejects(
        h2.fetch(`${broker.url}/v1/queues/huge-headers`, {
          method: "PUT",
          headers: { "content-type": "application/json", "x-big": "a".repeat(200_000) },
          body: "{}",
        }),
        /REFUSED_STREAM|431/,
      );
      const absent = await h2.fetch(`${broker.url}/v1/queues/huge-headers`, {
        headers: { authorization: bearer },
      });
      assert.equal(absent.status, 404, "the refused request created nothing");
      await absent.body?.cancel();
      assert.ok(h2.streamsOpened() > 100, "all of it over one connection");
    } finally {
      await h2?.close();
      assert.equal(await broker.stop(), 0, broker.output());
    }
  });
});

Deno.test({
  name: "h2 by ALPN over TLS: the doors signed over one connection, a reset long poll is released",
  ignore: !hasOpenssl(),
  fn: async () => {
    await withTempDir(async (dir) => {
      const files = await makeCertificates(dir);
      const ca = await Deno.readTextFile(files.ca);
      const broker = await startBroker({
        dataDir: `${dir}/d`,
        scheme: "https",
        args: [
          "--credentials",
          await writeCredentials(dir),
          "--tls-cert",
          files.cert,
          "--tls-key",
          files.key,
        ],
      });
      let h2: Http2Connection | null = null;
      try {
        h2 = await connectHttp2(broker.url, ca);
        assert.equal(h2.session.alpnProtocol, "h2");
        await doorsEndToEnd(broker.url, h2, "tls");
        await cancelledPollsRelease(broker.url, h2);
      } finally {
        await h2?.close();
        assert.equal(await broker.stop(), 0, broker.output());
      }
    });
  },
});

Deno.test("a follower forwards h2 requests of every door to the leader, the answers intact", async () => {
  await withTempDir(async (dir) => {
    const { specs, brokers } = await startCredentialedCluster(dir);
    let h2: Http2Connection | null = null;
    try {
      const leaderId = await leaderOf(brokers);
      const follower = brokers[specs.findIndex((spec) => spec.id !== leaderId)];
      h2 = await connectHttp2(follower.url);
      await doorsEndToEnd(follower.url, h2, "forwarded");
      // A long poll forwarded by the follower is answered by a send through the follower.
      const client = new CmqdClient({ baseUrl: follower.url, credentials: admin, fetch: h2.fetch });
      await client.createQueue("relayed");
      const poll = client.receiveMessages("relayed", { waitSeconds: 20 });
      const leader = brokers[specs.findIndex((spec) => spec.id === leaderId)];
      await parked(leader.url, 1);
      await client.sendMessages("relayed", [{ body: "through the follower" }]);
      assert.deepEqual((await poll).messages.map((message) => message.body), [
        "through the follower",
      ]);
    } finally {
      await h2?.close();
      for (const broker of brokers) await broker.stop();
    }
  });
});

Deno.test("SIGTERM with h2 and HTTP/1.1 streams open: parked long polls are answered, a hanging body is closed, the process exits", async () => {
  await withTempDir(async (dir) => {
    const broker = await startBroker({
      dataDir: `${dir}/d`,
      args: ["--credentials", await writeCredentials(dir)],
    });
    let h2: Http2Connection | null = null;
    try {
      h2 = await connectHttp2(broker.url);
      const overH2 = new CmqdClient({ baseUrl: broker.url, credentials: admin, fetch: h2.fetch });
      await overH2.createQueue("stopping");
      const overHttp1 = new CmqdClient({ baseUrl: broker.url, credentials: admin });
      const polls = [
        ...Array.from({ length: 3 }, () => overH2.receiveMessages("stopping", { waitSeconds: 20 })),
        ...Array.from(
          { length: 2 },
          () => overHttp1.receiveMessages("stopping", { waitSeconds: 20 }),
        ),
      ].map((poll) => poll.then((answer) => answer.messages.length, (error) => String(error)));
      const hanging = h2.fetch(`${broker.url}/v1/queues/stopping/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: bearer },
        body: new ReadableStream<Uint8Array>({
          start: (controller) => controller.enqueue(new TextEncoder().encode('{"messages":[')),
        }),
      }).then((response) => `answered ${response.status}`, () => "closed");
      await parked(broker.url, 5);
      assert.equal(await broker.stop(), 0, broker.output());

      // As the README promises: "parked long-poll receives are answered" (with no messages).
      assert.deepEqual(await Promise.all(polls), [0, 0, 0, 0, 0]);
      assert.match(await hanging, /^(closed|answered \d+)$/);
      overHttp1.close();
    } finally {
      await h2?.close();
      await broker.kill();
    }
  });
});

Deno.test("SIGTERM on a leader: its parked h2 long polls are answered with a retryable 503, not an internal error", async () => {
  await withTempDir(async (dir) => {
    const { specs, brokers } = await startCredentialedCluster(dir);
    let h2: Http2Connection | null = null;
    try {
      const leaderId = await leaderOf(brokers);
      const leader = brokers[specs.findIndex((spec) => spec.id === leaderId)];
      h2 = await connectHttp2(leader.url);
      const client = new CmqdClient({ baseUrl: leader.url, credentials: admin, fetch: h2.fetch });
      await client.createQueue("handed-over");
      const polls = Array.from({ length: 3 }, async () => {
        const response = await h2!.fetch(`${leader.url}/v1/queues/handed-over/messages/receive`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: bearer },
          body: JSON.stringify({ waitSeconds: 20 }),
        });
        const body = await response.json();
        return {
          status: response.status,
          code: body.error?.code,
        };
      });
      await parked(leader.url, 3);
      assert.equal(await leader.stop(), 0, leader.output());
      for (const answer of await Promise.all(polls)) {
        assert.equal(answer.status, 503, JSON.stringify(answer));
        assert.equal(answer.code, "NoLeader");
      }
      assert.doesNotMatch(
        leader.output(),
        /receive failed/,
        "nothing was logged as an internal error",
      );
    } finally {
      await h2?.close();
      for (const broker of brokers) await broker.stop();
    }
  });
});
