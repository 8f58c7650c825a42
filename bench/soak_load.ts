/**
 * The mixed load of `bench/soak.ts`: many features at once at moderate rates, each worker a loop
 * that counts its outcomes and never stops on an error. See bench/README.md ("Soak").
 *
 * @module
 */
import { CmqdClient, Consumer, type Credentials, Producer } from "../sdk/mod.ts";
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteQueueCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from "../broker/http/sqs/_npm_test_deps.ts";
import { CmqTestClient } from "../broker/http/cmq_v2/_cmq_test_client.ts";

/** Rates of the load, per second. */
export interface SoakRates {
  /** Messages sent by the SDK's Producers (split over two standard queues and a FIFO one). */
  rate: number;
  /** Topic publishes (one queue and one HTTP subscription each). */
  publishRate: number;
  /** CMQ-door and SQS-door send/receive/delete rounds, each. */
  doorRate: number;
  /** Queues created, used and deleted (v1 and SQS door alternately). */
  churnRate: number;
  /** Topics created with subscriptions, published to and deleted. */
  topicChurnRate: number;
  /** Short-lived clients and connections. */
  connChurnRate: number;
  /** Requests cut mid-way (aborted long polls, bodies that never end, sockets closed). */
  abortRate: number;
}

/** Outcome counts by `worker:outcome`. */
export class Tally {
  readonly counts = new Map<string, number>();
  add(key: string, by = 1): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + by);
  }
  error(worker: string, error: unknown): void {
    const code = (error as { code?: string; name?: string })?.code ??
      (error as { name?: string })?.name ?? "error";
    this.add(`${worker}:err:${code}`);
  }
  text(): string {
    return [...this.counts].sort().map(([key, n]) => `${key}=${n}`).join(" ");
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Where the load goes: `leader` for clients that may follow leader hints, `other` for one node. */
export interface SoakTargets {
  urls: string[];
  /** A node part of the traffic goes to without following the leader (a follower: forwarding). */
  forwardUrl: string | null;
  credentials: Credentials;
}

/** A callback endpoint that answers 500 to some pushes and is slow (or too slow) for others. */
export function startPushEndpoint(tally: Tally): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (request) => {
    await request.arrayBuffer();
    const draw = Math.random();
    if (draw < 0.1) {
      tally.add("push-endpoint:500");
      return new Response("no", { status: 500 });
    }
    if (draw < 0.15) await sleep(500 + Math.random() * 3000);
    else if (draw < 0.152) await sleep(16_000); // past the broker's 15 s: a failed attempt
    tally.add("push-endpoint:200");
    return new Response("ok");
  });
}

/** The queues and topic every run uses (created once, idempotently). */
export const names = {
  standard: ["soak-std-0", "soak-std-1"],
  fifo: "soak-fifo-0",
  deadLetter: "soak-dlq",
  deadLetterFifo: "soak-dlq-fifo",
  idle: ["soak-idle-0", "soak-idle-1", "soak-idle-2"],
  fanout: "soak-fanout",
  topic: "soak-topic",
  cmq: "soak-cmq",
  sqs: "soak-sqs",
  sqsFifo: "soak-sqsf",
};

/** The running load; `stop()` ends every worker and closes its clients. */
export class SoakLoad {
  readonly tally = new Tally();
  readonly #targets: SoakTargets;
  readonly #rates: SoakRates;
  readonly #workers: Promise<void>[] = [];
  readonly #clients: CmqdClient[] = [];
  readonly #sqs: SQSClient[] = [];
  readonly #producers: Producer[] = [];
  readonly #consumers: Consumer[] = [];
  #running = true;
  #pushUrl = "";
  #serial = 0;

  constructor(targets: SoakTargets, rates: SoakRates) {
    this.#targets = targets;
    this.#rates = rates;
  }

  /** A client of the whole cluster (`i` even) or of the forwarding node only (`i` odd). */
  #client(i: number): CmqdClient {
    const forward = i % 2 === 1 && this.#targets.forwardUrl !== null;
    const client = new CmqdClient({
      baseUrl: forward ? this.#targets.forwardUrl! : this.#targets.urls,
      credentials: this.#targets.credentials,
      followLeader: !forward,
    });
    this.#clients.push(client);
    return client;
  }

  #url(i: number): string {
    return i % 2 === 1 && this.#targets.forwardUrl !== null
      ? this.#targets.forwardUrl
      : this.#targets.urls[0];
  }

  #sqsClient(i: number): SQSClient {
    const client = new SQSClient({
      endpoint: this.#url(i),
      region: "eu-west-1",
      credentials: {
        accessKeyId: this.#targets.credentials.secretId,
        secretAccessKey: this.#targets.credentials.secretKey,
      },
      maxAttempts: 1,
    });
    this.#sqs.push(client);
    return client;
  }

  /** Runs `body` about `perSecond` times a second until stopped, counting errors. */
  #every(worker: string, perSecond: number, body: () => Promise<void>): void {
    if (perSecond <= 0) return;
    const periodMs = 1000 / perSecond;
    this.#workers.push((async () => {
      while (this.#running) {
        const started = performance.now();
        try {
          await body();
          this.tally.add(`${worker}:ok`);
        } catch (error) {
          if (this.#running) this.tally.error(worker, error);
        }
        await sleep(Math.max(0, periodMs - (performance.now() - started)));
      }
    })());
  }

  /** Creates the fixed queues and topic, then starts every worker. */
  async start(pushUrl: string): Promise<void> {
    this.#pushUrl = pushUrl;
    const admin = this.#client(0);
    await admin.createQueue(names.deadLetter);
    await admin.createQueue(names.deadLetterFifo, { fifo: true });
    const deadLetter = { queue: names.deadLetter, maxReceiveCount: 3 };
    for (const name of names.standard) {
      await admin.createQueue(name, { visibilityTimeoutSeconds: 6, deadLetter });
    }
    await admin.createQueue(names.fifo, {
      fifo: true,
      visibilityTimeoutSeconds: 6,
      deadLetter: { queue: names.deadLetterFifo, maxReceiveCount: 3 },
    });
    for (const name of [...names.idle, names.fanout, names.cmq]) await admin.createQueue(name);
    await admin.createTopic(names.topic, { filterType: "tag" });
    await admin.subscribe(names.topic, "to-queue", {
      endpoint: { queue: names.fanout },
      filterTags: ["a"],
    });
    await admin.subscribe(names.topic, "to-url", { endpoint: { url: `${pushUrl}/main` } });
    const sqs = this.#sqsClient(0);
    await sqs.send(new CreateQueueCommand({ QueueName: names.sqs }));
    await sqs.send(
      new CreateQueueCommand({
        QueueName: `${names.sqsFifo}.fifo`,
        Attributes: { FifoQueue: "true" },
      }),
    );
    this.#startSdk();
    this.#startIdlePolls();
    this.#startTopics();
    this.#startDoors();
    this.#startChurn();
    this.#startAborts();
    // Dead letters pile up by design; purge them now and then so the backlog stays bounded.
    this.#every("purge-dlq", 1 / 60, async () => {
      await admin.purge(names.deadLetter);
      await admin.purge(names.deadLetterFifo);
    });
  }

  #startSdk(): void {
    const queues = [...names.standard, names.fifo];
    queues.forEach((queue, i) => {
      const producer = new Producer(this.#client(i), queue, {
        batchSize: 10,
        lingerMs: 5,
        autoDedupId: true,
      });
      this.#producers.push(producer);
      const perTick = Math.max(1, Math.round(this.#rates.rate / queues.length / 10));
      this.#every(`produce:${queue}`, 10, async () => {
        await Promise.all(Array.from({ length: perTick }, () => {
          const n = this.#serial++;
          const draw = Math.random();
          const kind = draw < 0.03 ? "poison" : draw < 0.05 ? "slow" : "plain";
          return producer.send({
            body: JSON.stringify({ n, kind, pad: "x".repeat(Math.floor(Math.random() * 2000)) }),
            ...(queue === names.fifo ? { groupId: `g${n % 32}` } : {}),
          });
        }));
      });
    });
    [...queues, names.fanout].forEach((queue, i) => {
      const consumer = new Consumer(this.#client(i + 1), queue, {
        concurrency: 8,
        visibilityTimeoutSeconds: 6,
        waitSeconds: 5,
        retryDelaySeconds: () => 1,
        onError: (error) =>
          String(error).includes("poison")
            ? this.tally.add("consume:poison-retried")
            : this.tally.error(`consume:${queue}`, error),
        handleMessage: async (message) => {
          const kind = message.body.startsWith("{") ? JSON.parse(message.body).kind : "plain";
          if (kind === "poison") throw new Error("poison: never deleted, dead-lettered");
          if (kind === "slow") await sleep(4_000); // past half the lock: renewed
          this.tally.add(`consume:${kind}`);
        },
      });
      consumer.start();
      this.#consumers.push(consumer);
    });
  }

  /** Long polls on queues that stay empty: each times out with nothing. */
  #startIdlePolls(): void {
    for (let i = 0; i < 6; i++) {
      const client = this.#client(i);
      const queue = names.idle[i % names.idle.length];
      this.#every("idle-poll", 100, async () => {
        await client.receiveMessages(queue, { maxMessages: 10, waitSeconds: 1 + (i % 4) });
      });
    }
  }

  #startTopics(): void {
    const publisher = this.#client(1);
    this.#every("publish", this.#rates.publishRate, async () => {
      await publisher.publish(names.topic, [
        { body: `p${this.#serial++}`, tags: [Math.random() < 0.5 ? "a" : "b"] },
      ]);
    });
    const churner = this.#client(0);
    let round = 0;
    this.#every("topic-churn", this.#rates.topicChurnRate, async () => {
      const topic = `soak-tc-${round++}`;
      await churner.createTopic(topic);
      await churner.subscribe(topic, "u", { endpoint: { url: `${this.#pushUrl}/churn` } });
      await churner.subscribe(topic, "q", { endpoint: { queue: names.idle[0] } });
      await churner.publish(topic, [{ body: "1" }, { body: "2" }, { body: "3" }]);
      await sleep(Math.random() * 1000);
      if (round % 2 === 0) await churner.unsubscribe(topic, "u");
      await churner.deleteTopic(topic);
      // The copies sent to the idle queue would wake its pollers: remove them.
      await churner.purge(names.idle[0]);
    });
  }

  #startDoors(): void {
    [0, 1].forEach((i) => {
      const url = new URL(this.#url(i));
      const cmq = new CmqTestClient({
        handler: (request) => fetch(request),
        host: url.host,
        credentials: this.#targets.credentials,
        signatureMethod: "HmacSHA256",
      });
      this.#every("cmq", this.#rates.doorRate / 2, async () => {
        const sent = await cmq.call("SendMessage", { queueName: names.cmq, msgBody: "cmq" });
        if (sent.body.code !== 0) throw { code: `cmq-${sent.body.code}` };
        const got = await cmq.call("ReceiveMessage", {
          queueName: names.cmq,
          pollingWaitSeconds: 1,
        });
        if (got.body.code === 0) {
          await cmq.call("DeleteMessage", {
            queueName: names.cmq,
            receiptHandle: got.body.receiptHandle,
          });
        }
      });
      const sqs = this.#sqsClient(i);
      const base = `${url.origin}/000000000000`;
      this.#every("sqs", this.#rates.doorRate / 2, async () => {
        const fifo = Math.random() < 0.5;
        const QueueUrl = fifo ? `${base}/${names.sqsFifo}.fifo` : `${base}/${names.sqs}`;
        const n = this.#serial++;
        await sqs.send(
          new SendMessageCommand({
            QueueUrl,
            MessageBody: `sqs ${n}`,
            ...(fifo ? { MessageGroupId: `g${n % 4}`, MessageDeduplicationId: `d${n}` } : {}),
          }),
        );
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 1,
            ...(fifo ? { ReceiveRequestAttemptId: crypto.randomUUID() } : {}),
          }),
        );
        if (Messages.length > 0) {
          await sqs.send(
            new DeleteMessageBatchCommand({
              QueueUrl,
              Entries: Messages.map((m, k) => ({ Id: `e${k}`, ReceiptHandle: m.ReceiptHandle! })),
            }),
          );
        }
      });
    });
  }

  /** Queues that live a second or two, and short-lived clients and connections. */
  #startChurn(): void {
    const client = this.#client(0);
    const sqs = this.#sqsClient(1);
    let round = 0;
    this.#every("queue-churn", this.#rates.churnRate, async () => {
      const n = round++;
      const fifo = n % 3 === 0;
      const name = `soak-qc-${n}`;
      if (n % 2 === 0) {
        await client.createQueue(name, { fifo });
        await client.sendMessages(name, [
          { body: "a", ...(fifo ? { groupId: "g" } : {}) },
          { body: "b", ...(fifo ? { groupId: "h" } : {}) },
        ]);
        await client.receiveMessages(name, { maxMessages: 1 });
        // A long poll parked on the queue while it is deleted.
        const parked = client.receiveMessages(name, { waitSeconds: 5 }).catch(() => {});
        await sleep(200);
        await client.deleteQueue(name);
        await parked;
      } else {
        const sqsName = fifo ? `${name}.fifo` : name;
        const { QueueUrl } = await sqs.send(
          new CreateQueueCommand({
            QueueName: sqsName,
            ...(fifo ? { Attributes: { FifoQueue: "true" } } : {}),
          }),
        );
        await sqs.send(
          new SendMessageCommand({
            QueueUrl,
            MessageBody: "x",
            ...(fifo ? { MessageGroupId: "g", MessageDeduplicationId: name } : {}),
          }),
        );
        await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl,
            ...(fifo ? { ReceiveRequestAttemptId: `a-${n}` } : {}),
          }),
        );
        await sqs.send(new DeleteQueueCommand({ QueueUrl }));
      }
    });
    let connections = 0;
    this.#every("conn-churn", this.#rates.connChurnRate, async () => {
      const i = connections++;
      if (i % 2 === 0) {
        const shortLived = new CmqdClient({
          baseUrl: this.#url(i / 2),
          credentials: this.#targets.credentials,
        });
        try {
          await shortLived.getQueue(names.standard[0]);
        } finally {
          shortLived.close();
        }
      } else {
        const answer = await this.#raw(this.#url(i), `GET /v1/queues/${names.fifo} HTTP/1.1`, {
          close: true,
        });
        if (!answer.startsWith("HTTP/1.1 200")) throw { code: answer.slice(0, 12) };
      }
    });
  }

  /** Requests given up on: by the client (abort), or by a socket closed mid-request. */
  #startAborts(): void {
    const client = this.#client(1);
    let round = 0;
    this.#every("abort", this.#rates.abortRate, async () => {
      const i = round++;
      const url = this.#url(i);
      const queue = names.idle[1];
      switch (i % 4) {
        case 0: {
          const signal = AbortSignal.timeout(300);
          await client.receiveMessages(queue, { waitSeconds: 10 }, { signal }).catch(() => {});
          return;
        }
        case 1: // a long poll whose connection closes while it is parked
          await this.#raw(url, `POST /v1/queues/${queue}/messages/receive HTTP/1.1`, {
            body: '{"waitSeconds": 10}',
            cutAfterMs: 300,
          });
          return;
        case 2: // a body that never ends
          await this.#raw(url, `POST /v1/queues/${queue}/messages HTTP/1.1`, {
            body: '{"messages": [{"body": "never',
            contentLength: 4000,
            cutAfterMs: 200,
          });
          return;
        default: // headers that never end
          await this.#raw(url, `GET /v1/queues/${queue} HTTP/1.1`, { partialHead: true });
      }
    });
  }

  /** One HTTP/1.1 request on a new TCP connection (Bearer auth), cut or answered. */
  async #raw(
    url: string,
    line: string,
    options: {
      body?: string;
      contentLength?: number;
      close?: boolean;
      cutAfterMs?: number;
      partialHead?: boolean;
    },
  ): Promise<string> {
    const { hostname, port } = new URL(url);
    const connection = await Deno.connect({ hostname, port: Number(port) });
    try {
      const { secretId, secretKey } = this.#targets.credentials;
      const body = options.body ?? "";
      const head = [
        line,
        `host: ${hostname}:${port}`,
        `authorization: Bearer ${secretId}:${secretKey}`,
        "content-type: application/json",
        `content-length: ${options.contentLength ?? new TextEncoder().encode(body).length}`,
        ...(options.close ? ["connection: close"] : []),
      ].join("\r\n");
      const text = options.partialHead ? head.slice(0, head.length / 2) : `${head}\r\n\r\n${body}`;
      await connection.write(new TextEncoder().encode(text));
      if (options.partialHead || options.cutAfterMs !== undefined) {
        await sleep(options.cutAfterMs ?? 200);
        return "";
      }
      const chunks: Uint8Array<ArrayBuffer>[] = [];
      const buffer = new Uint8Array(16_384);
      for (;;) {
        const read = await connection.read(buffer);
        if (read === null) break;
        chunks.push(buffer.slice(0, read));
      }
      return new TextDecoder().decode(await new Blob(chunks).arrayBuffer());
    } finally {
      connection.close();
    }
  }

  /** Ends every worker, stops consumers and producers, closes clients. */
  async stop(): Promise<void> {
    this.#running = false;
    await Promise.allSettled(this.#workers);
    await Promise.allSettled(this.#consumers.map((consumer) => consumer.stop()));
    await Promise.allSettled(this.#producers.map((producer) => producer.close()));
    for (const client of this.#clients) client.close();
    for (const client of this.#sqs) client.destroy();
  }
}
