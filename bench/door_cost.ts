/**
 * What one request of the load's hot path costs, in CPU time: send, receive and delete of 1 KB
 * messages through v1, the CMQ door and the SQS door, in the batch sizes of the fair comparison
 * (`door_compare.ts`: 16 for v1 and CMQ, 10 for v1 and SQS), through the broker's app served by
 * `Deno.serve` on a loopback socket against a service that answers at once. Bodies look like
 * the load generator's (a send stamp with `|`, then padding).
 *
 * The figure is this process's CPU time (client and server: `process.cpuUsage`) per request,
 * over `--requests` requests with `--concurrency` in flight, median of `--rounds` rounds run
 * interleaved. CPU time, unlike wall time, hardly moves when other processes share the cores,
 * so two builds compare on a busy machine. The client's share is the same for a door before and
 * after a change; between v1 and a door it differs only by the wire format's encoding.
 *
 * ```sh
 * deno run -A bench/door_cost.ts --rounds 5 --requests 2000
 * ```
 *
 * @module
 */
import process from "node:process";
import { createApp, FakeStatus, Metrics, recordingService } from "../broker/testing.ts";
import { option } from "./cli_options.ts";

const bodyText = "0001764714000000.123|" + "x".repeat(1003);
const handle = "AQAAAAAAAPA_AAAAAAAA8D8AAAAAAAAIQCoAAAA";

function answers(count: number) {
  const ids = Array.from({ length: count }, (_, index) => `0000000000000${index}`);
  return {
    sendMessages: { messages: ids.map((id, sequence) => ({ id, sequence })) },
    receiveMessages: {
      messages: ids.map((id, sequence) => ({
        id,
        sequence,
        body: bodyText,
        receiptHandle: handle,
        enqueuedAt: 1_700_000_000_000,
        firstReceivedAt: 1_700_000_000_100,
        receiveCount: 1,
        visibleAt: 1_700_000_060_000,
      })),
    },
    deleteMessages: { deleted: count, failures: [] },
  };
}

const servers: Deno.HttpServer[] = [];
const httpClient = Deno.createHttpClient({});

function appFor(count: number) {
  const { service, calls } = recordingService(answers(count));
  const app = createApp({ service, status: new FakeStatus(), metrics: new Metrics() });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.fetch);
  servers.push(server);
  const origin = `http://127.0.0.1:${server.addr.port}`;
  return async (path: string, init: RequestInit) => {
    const response = await fetch(`${origin}${path}`, { ...init, client: httpClient });
    if (response.status !== 200) throw new Error(`${path}: ${response.status}`);
    await response.arrayBuffer();
    calls.length = 0;
  };
}

const json = { "content-type": "application/json" };

function v1Requests(count: number) {
  return {
    send: JSON.stringify({ messages: Array.from({ length: count }, () => ({ body: bodyText })) }),
    receive: JSON.stringify({ maxMessages: count, waitSeconds: 1, visibilityTimeoutSeconds: 60 }),
    delete: JSON.stringify({ receiptHandles: Array.from({ length: count }, () => handle) }),
  };
}

function cmqForm(params: Record<string, string | number>): Uint8Array<ArrayBuffer> {
  const form = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) form.set(key, String(value));
  return new TextEncoder().encode(form.toString());
}

function cmqRequests(count: number) {
  const numbered = (base: string, value: string) =>
    Object.fromEntries(
      Array.from({ length: count }, (_, index) => [`${base}.${index + 1}`, value]),
    );
  return {
    send: cmqForm({ Action: "BatchSendMessage", queueName: "q", ...numbered("msgBody", bodyText) }),
    receive: cmqForm({
      Action: "BatchReceiveMessage",
      queueName: "q",
      numOfMsg: count,
      pollingWaitSeconds: 1,
    }),
    delete: cmqForm({
      Action: "BatchDeleteMessage",
      queueName: "q",
      ...numbered("receiptHandle", handle),
    }),
  };
}

const queueUrl = "http://127.0.0.1:8080/000000000000/q";

function sqsRequests(count: number) {
  const entries = <T>(make: (index: number) => T) =>
    Array.from({ length: count }, (_, i) => make(i));
  return {
    send: JSON.stringify({
      QueueUrl: queueUrl,
      Entries: entries((index) => ({ Id: String(index), MessageBody: bodyText })),
    }),
    receive: JSON.stringify({ QueueUrl: queueUrl, MaxNumberOfMessages: count, WaitTimeSeconds: 1 }),
    delete: JSON.stringify({
      QueueUrl: queueUrl,
      Entries: entries((index) => ({ Id: String(index), ReceiptHandle: handle })),
    }),
  };
}

const sqsHeaders = (operation: string) => ({
  "content-type": "application/x-amz-json-1.0",
  "x-amz-target": `AmazonSQS.${operation}`,
});

type Call = () => Promise<void>;

/** The requests measured: name → one call. */
function cases(): Map<string, Call> {
  const all = new Map<string, Call>();
  for (const count of [16, 10]) {
    const call = appFor(count);
    const v1 = v1Requests(count);
    const post = (body: BodyInit, headers?: HeadersInit) => ({ method: "POST", body, headers });
    all.set(`v1 send ${count}`, () => call("/v1/queues/q/messages", post(v1.send, json)));
    all.set(
      `v1 receive ${count}`,
      () => call("/v1/queues/q/messages/receive", post(v1.receive, json)),
    );
    all.set(
      `v1 delete ${count}`,
      () => call("/v1/queues/q/messages/delete", post(v1.delete, json)),
    );
    if (count === 16) {
      const cmq = cmqRequests(count);
      all.set(`cmq send ${count}`, () => call("/v2/index.php", post(cmq.send)));
      all.set(`cmq receive ${count}`, () => call("/v2/index.php", post(cmq.receive)));
      all.set(`cmq delete ${count}`, () => call("/v2/index.php", post(cmq.delete)));
    } else {
      const sqs = sqsRequests(count);
      all.set(`sqs send ${count}`, () => call("/", post(sqs.send, sqsHeaders("SendMessageBatch"))));
      all.set(
        `sqs receive ${count}`,
        () => call("/", post(sqs.receive, sqsHeaders("ReceiveMessage"))),
      );
      all.set(
        `sqs delete ${count}`,
        () => call("/", post(sqs.delete, sqsHeaders("DeleteMessageBatch"))),
      );
    }
  }
  return all;
}

/** CPU µs of this process per call, over `requests` calls with `concurrency` in flight. */
async function cpuPerCall(call: Call, requests: number, concurrency: number): Promise<number> {
  let left = requests;
  const lane = async () => {
    while (left-- > 0) await call();
  };
  const before = process.cpuUsage();
  await Promise.all(Array.from({ length: concurrency }, lane));
  const used = process.cpuUsage(before);
  return (used.user + used.system) / requests;
}

if (import.meta.main) {
  const rounds = option("rounds", 5);
  const requests = option("requests", 2000);
  const concurrency = option("concurrency", 4);
  const all = cases();
  const samples = new Map<string, number[]>();
  try {
    for (const call of all.values()) await cpuPerCall(call, 200, concurrency); // warm-up
    for (let round = 0; round < rounds; round++) {
      for (const [name, call] of all) {
        const list = samples.get(name) ?? [];
        list.push(await cpuPerCall(call, requests, concurrency));
        samples.set(name, list);
      }
    }
  } finally {
    httpClient.close();
    for (const server of servers) await server.shutdown();
  }
  const median = (values: number[]) => values.toSorted((a, b) => a - b)[values.length >> 1];
  console.log("| request | CPU µs per request (median) | min | max |\n|---|---|---|---|");
  for (const [name, values] of samples) {
    const sorted = values.toSorted((a, b) => a - b);
    console.log(
      `| ${name} | ${median(values).toFixed(1)} | ${sorted[0].toFixed(1)} | ${
        sorted[sorted.length - 1].toFixed(1)
      } |`,
    );
  }
  console.log(JSON.stringify(Object.fromEntries(
    [...samples].map(([name, values]) => [name, Math.round(10 * median(values)) / 10]),
  )));
}
