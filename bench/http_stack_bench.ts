/**
 * `deno bench` of what one request costs in the broker's isolate without sockets: the whole app
 * (hono, the doors' middleware, validation, the service on an in-memory replica, the JSON answer)
 * against the service alone and against a bare Request → JSON.parse → Response. The gap between
 * the first and the other two is the HTTP stack's share, the part worker isolates could take.
 *
 * @module
 */
import { createApp, FakeStatus, memoryEngine, Metrics } from "../broker/testing.ts";

const { broker } = memoryEngine();
await broker.createQueue("q", {});
const app = createApp({ service: broker, status: new FakeStatus(), metrics: new Metrics() });
const body = "x".repeat(1024);
const one = JSON.stringify({ messages: [{ body }] });
const sixteen = JSON.stringify({ messages: Array.from({ length: 16 }, () => ({ body })) });
const receive = JSON.stringify({ maxMessages: 16, waitSeconds: 0, visibilityTimeoutSeconds: 1 });
const headers = { "content-type": "application/json" };
const post = (path: string, text: string) =>
  app.fetch(
    new Request(`http://broker/v1/queues/q${path}`, { method: "POST", headers, body: text }),
  );

Deno.bench("app: send 1 x 1 KB", { group: "request", baseline: true }, async () => {
  await (await post("/messages", one)).text();
});
Deno.bench("app: send 16 x 1 KB", { group: "request" }, async () => {
  await (await post("/messages", sixteen)).text();
});
Deno.bench("app: receive up to 16", { group: "request" }, async () => {
  await (await post("/messages/receive", receive)).text();
});
Deno.bench("service alone: send 1 x 1 KB", { group: "request" }, async () => {
  await broker.sendMessages("q", [{ body }]);
});
Deno.bench("bare Request, JSON.parse, Response.json", { group: "request" }, async () => {
  const request = new Request("http://broker/", { method: "POST", headers, body: one });
  const parsed = await request.json();
  await Response.json({ messages: [{ id: "1", sequence: parsed.messages.length }] }).text();
});
