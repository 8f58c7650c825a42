/**
 * The broker's own CPU per message through v1, the CMQ door and the SQS door, without sockets
 * or a load generator: requests go straight to the app's `fetch` over the in-memory engine, and
 * only the time from the request's construction to its answer's text counts (the request bodies
 * are built beforehand). 1 KB bodies in the batch sizes of the fair comparison: 16 for v1 and
 * CMQ, 10 for v1 and SQS. `send` cases time the batch send; `consume` cases time the receive and
 * the delete of the batch sent just before.
 *
 * The figure is `process.cpuUsage` per message, median of `--rounds` rounds of `--requests`
 * batches each, cases interleaved round by round. To compare two builds, run this file from each
 * tree in turn.
 *
 * ```sh
 * deno run -A bench/door_app_cost.ts --rounds 3 --requests 1500
 * deno run -A --cpu-prof bench/door_app_cost.ts --only sqs    # one door's cases, profiled
 * ```
 *
 * @module
 */
import process from "node:process";
import { createApp, FakeStatus, memoryEngine, Metrics } from "../broker/testing.ts";
import { option } from "./cli_options.ts";

const body = "0001764714000000.123|" + "x".repeat(1003);
const queueUrl = "http://127.0.0.1:8080/000000000000/q";
const utf8 = new TextEncoder();

const { broker } = memoryEngine();
await broker.createQueue("q", { visibilityTimeoutSeconds: 60 });
const app = createApp({ service: broker, status: new FakeStatus(), metrics: new Metrics() });

/** CPU µs spent in `fetch` calls since the last `takeCpu`. */
let cpuMicros = 0;

async function post(path: string, text: string, headers: Record<string, string> = {}) {
  const bytes = utf8.encode(text);
  const init = { method: "POST", headers: { ...headers, "content-length": `${bytes.length}` } };
  const before = process.cpuUsage();
  const response = await app.fetch(
    new Request(`http://127.0.0.1:8080${path}`, {
      ...init,
      body: bytes,
    }),
  );
  const answer = await response.text();
  const used = process.cpuUsage(before);
  cpuMicros += used.user + used.system;
  if (response.status !== 200) throw new Error(`${path}: ${response.status} ${answer}`);
  return answer;
}

function form(params: Record<string, string | number>): string {
  const encoded = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) encoded.set(name, String(value));
  return encoded.toString();
}

const numbered = (base: string, values: string[]) =>
  Object.fromEntries(values.map((value, index) => [`${base}.${index + 1}`, value]));
const sqs = (operation: string) => ({
  "content-type": "application/x-amz-json-1.0",
  "x-amz-target": `AmazonSQS.${operation}`,
});
const json = { "content-type": "application/json" };

/** One door's batch: a send, and a consume (receive, then delete what came). */
interface Door {
  send(): Promise<unknown>;
  consume(): Promise<unknown>;
}

function doorOf(kind: "v1" | "cmq" | "sqs", count: number): Door {
  const bodies = Array.from({ length: count }, () => body);
  if (kind === "cmq") {
    const send = form({
      Action: "BatchSendMessage",
      queueName: "q",
      ...numbered("msgBody", bodies),
    });
    const receive = form({
      Action: "BatchReceiveMessage",
      queueName: "q",
      numOfMsg: count,
      pollingWaitSeconds: 0,
    });
    return {
      send: () => post("/v2/index.php", send),
      async consume() {
        const answer = JSON.parse(await post("/v2/index.php", receive));
        const handles = answer.msgInfoList.map((item: { receiptHandle: string }) =>
          item.receiptHandle
        );
        const remove = { Action: "BatchDeleteMessage", queueName: "q" };
        await post("/v2/index.php", form({ ...remove, ...numbered("receiptHandle", handles) }));
      },
    };
  }
  if (kind === "sqs") {
    const entries = bodies.map((text, index) => ({ Id: `${index}`, MessageBody: text }));
    const send = JSON.stringify({ QueueUrl: queueUrl, Entries: entries });
    const receive = JSON.stringify({ QueueUrl: queueUrl, MaxNumberOfMessages: count });
    return {
      send: () => post("/", send, sqs("SendMessageBatch")),
      async consume() {
        const answer = JSON.parse(await post("/", receive, sqs("ReceiveMessage")));
        const handles = answer.Messages.map((item: { ReceiptHandle: string }, index: number) => ({
          Id: `${index}`,
          ReceiptHandle: item.ReceiptHandle,
        }));
        const remove = JSON.stringify({ QueueUrl: queueUrl, Entries: handles });
        await post("/", remove, sqs("DeleteMessageBatch"));
      },
    };
  }
  const send = JSON.stringify({ messages: bodies.map((text) => ({ body: text })) });
  const receive = JSON.stringify({ maxMessages: count, waitSeconds: 0 });
  return {
    send: () => post("/v1/queues/q/messages", send, json),
    async consume() {
      const answer = JSON.parse(await post("/v1/queues/q/messages/receive", receive, json));
      const handles = answer.messages.map((item: { receiptHandle: string }) => item.receiptHandle);
      await post("/v1/queues/q/messages/delete", JSON.stringify({ receiptHandles: handles }), json);
    },
  };
}

/** CPU µs per message of `requests` batches of one door, send or consume side. */
async function measure(door: Door, count: number, side: string, requests: number) {
  let timed = 0;
  for (let index = 0; index < requests; index++) {
    cpuMicros = 0;
    await door.send();
    if (side === "send") timed += cpuMicros;
    cpuMicros = 0;
    await door.consume();
    if (side === "consume") timed += cpuMicros;
  }
  return timed / requests / count;
}

if (import.meta.main) {
  const rounds = option("rounds", 3);
  const requests = option("requests", 1500);
  // `--only sqs` (or v1, cmq): one door's cases alone, e.g. under `--cpu-prof`.
  const only = Deno.args[Deno.args.indexOf("--only") + 1];
  const kinds = (["v1", "cmq", "sqs"] as const).filter((kind) =>
    !Deno.args.includes("--only") || kind === only
  );
  const cases = kinds.flatMap((kind) =>
    (kind === "cmq" ? [16] : kind === "sqs" ? [10] : [16, 10]).flatMap((count) =>
      ["send", "consume"].map((side) => ({ kind, count, side, door: doorOf(kind, count) }))
    )
  );
  for (const { door, count, side } of cases) await measure(door, count, side, 300); // warm-up
  const samples = new Map<string, number[]>();
  for (let round = 0; round < rounds; round++) {
    for (const { kind, count, side, door } of cases) {
      const name = `${kind} ${side} ${count}`;
      samples.set(name, [...samples.get(name) ?? [], await measure(door, count, side, requests)]);
    }
  }
  const median = (values: number[]) => values.toSorted((a, b) => a - b)[values.length >> 1];
  console.log("| case | CPU µs per message (median) | rounds |\n|---|---|---|");
  for (const [name, values] of samples) {
    console.log(`| ${name} | ${median(values).toFixed(1)} | ${values.map((v) => v.toFixed(1))} |`);
  }
}
