/**
 * Per-request cost of the door on the hot path, without sockets: `app.request()` of a 16-message
 * send of 1 KB bodies (about 16 KB of JSON) against a service that answers at once, next to the
 * floor of reading and parsing the same body by hand. The difference is the door's overhead
 * (routing, middleware, validation, metrics, serialization).
 *
 * Run: `deno bench -A broker/http/app_bench.ts`
 *
 * @module
 */
import { Metrics } from "./metrics.ts";
import { createApp } from "./app.ts";
import { FakeStatus, recordingService } from "./testing/mod.ts";

const messages = Array.from({ length: 16 }, (_, index) => ({
  body: "x".repeat(1000),
  dedupId: `dedup-${index}`,
}));
const body = JSON.stringify({ messages });
const sent = { messages: messages.map((_, index) => ({ id: `m${index}`, sequence: index })) };
const received = {
  messages: messages.map((message, index) => ({
    id: `m${index}`,
    sequence: index,
    body: message.body,
    receiptHandle: "AQAAAAAAAPA_AAAAAAAA8D8AAAAAAAAIQCoAAAA",
    enqueuedAt: 1,
    firstReceivedAt: 2,
    receiveCount: 1,
    visibleAt: 3,
  })),
};

const { service, calls } = recordingService({ sendMessages: sent, receiveMessages: received });
const app = createApp({ service, status: new FakeStatus(), metrics: new Metrics() });
const headers = { "content-type": "application/json", "content-length": String(body.length) };

Deno.bench("floor: Request + arrayBuffer + JSON.parse + Response.json (16 × 1 KB)", {
  group: "send",
  baseline: true,
}, async () => {
  const request = new Request("http://door/v1/queues/orders/messages", {
    method: "POST",
    body,
    headers,
  });
  const parsed = JSON.parse(new TextDecoder().decode(await request.arrayBuffer()));
  if (parsed.messages.length !== 16) throw new Error("parse");
  await Response.json(sent).arrayBuffer();
});

Deno.bench("door: POST /v1/queues/{queue}/messages (16 × 1 KB)", { group: "send" }, async () => {
  const response = await app.request("http://door/v1/queues/orders/messages", {
    method: "POST",
    body,
    headers,
  });
  if (response.status !== 200) throw new Error(`status ${response.status}`);
  await response.arrayBuffer();
  calls.length = 0;
});

Deno.bench("door: POST /v1/queues/{queue}/messages/receive (16 × 1 KB out)", {
  group: "receive",
}, async () => {
  const response = await app.request("http://door/v1/queues/orders/messages/receive", {
    method: "POST",
    body: '{"maxMessages":16,"waitSeconds":0}',
    headers: { "content-type": "application/json" },
  });
  if (response.status !== 200) throw new Error(`status ${response.status}`);
  await response.arrayBuffer();
  calls.length = 0;
});

Deno.bench("door: GET /healthz", { group: "tiny" }, async () => {
  await (await app.request("http://door/healthz")).arrayBuffer();
});
