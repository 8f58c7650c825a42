/**
 * The default request body bound of every door (README, "Decisions where the contract is silent"):
 * 4 MiB of messages plus 256 KiB of JSON overhead, answered from the declared `content-length`
 * before the body is read, on every route and whatever the method (a `GET` declaring a larger
 * body too). The other tests of the bound give the app a small one; this one pins the default.
 */
import assert from "node:assert/strict";
import { createApp, Metrics } from "./mod.ts";
import { FakeStatus, recordingService } from "./testing/mod.ts";

const limitBytes = 4 * 1024 * 1024 + 256 * 1024;

function defaultApp() {
  const { service, calls } = recordingService();
  const app = createApp({ service, status: new FakeStatus(), metrics: new Metrics() });
  return { app, calls };
}

function declaring(method: string, length: number, headers: Record<string, string> = {}) {
  return {
    method,
    headers: { ...headers, "content-length": String(length) },
    body: method === "GET" ? undefined : "{}",
  };
}

Deno.test("a declared body over 4 MiB + 256 KiB is 413 RequestTooLarge on every route, GETs included", async () => {
  const { app, calls } = defaultApp();
  const routes: [string, string, Record<string, string>?][] = [
    ["GET", "/v1/queues"],
    ["GET", "/v1/queues/q"],
    ["GET", "/healthz"],
    ["GET", "/metrics"],
    ["POST", "/v1/queues/q/messages", { "content-type": "application/json" }],
    ["POST", "/v1/topics/t/messages", { "content-type": "application/json" }],
  ];
  for (const [method, path, headers] of routes) {
    const before = calls.length;
    const over = await app.request(path, declaring(method, limitBytes + 1, headers));
    assert.equal(calls.length, before, `${method} ${path} reached the service`);
    assert.equal(over.status, 413, `${method} ${path}`);
    const body = await over.json();
    assert.equal(body.error.code, "RequestTooLarge");
    assert.equal(body.error.message, `request body exceeds ${limitBytes} bytes`);
    const at = await app.request(path, declaring(method, limitBytes, headers));
    assert.notEqual(at.status, 413, `${method} ${path} at the bound`);
    await at.body?.cancel();
  }
});

Deno.test("the CMQ and SQS doors refuse a declared body over the same bound in their own words", async () => {
  const { app } = defaultApp();
  const cmq = await app.request("/v2/index.php", declaring("POST", limitBytes + 1));
  assert.deepEqual(
    [cmq.status, (await cmq.json()).message],
    [200, `(10350)request body value or length is out of range (at most ${limitBytes} bytes)`],
  );
  const sqsHeaders = {
    "content-type": "application/x-amz-json-1.0",
    "x-amz-target": "AmazonSQS.SendMessage",
  };
  const sqs = await app.request("/", declaring("POST", limitBytes + 1, sqsHeaders));
  assert.deepEqual([sqs.status, await sqs.json()], [400, {
    __type: "com.amazonaws.sqs#BatchRequestTooLong",
    message: `The request body exceeds ${limitBytes} bytes.`,
  }]);
  for (const [path, headers] of [["/v2/index.php", {}], ["/", sqsHeaders]] as const) {
    const at = await app.request(path, declaring("POST", limitBytes, headers));
    assert.doesNotMatch(await at.text(), /out of range|TooLong/, `${path} at the bound`);
  }
});

Deno.test("the bound counts the JSON text: a body of control characters is six bytes each (README's numbers)", async () => {
  const { app, calls } = defaultApp();
  const send = (chars: number) => {
    const body = JSON.stringify({ messages: [{ body: "\u0001".repeat(chars) }] });
    return app.request("/v1/queues/q/messages", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
  };
  // 742,737 of them: 4,456,448 bytes of compact JSON, the bound itself.
  const before = calls.length;
  const at = await send(742_737);
  assert.notEqual(at.status, 413);
  await at.body?.cancel();
  assert.equal(calls.length, before + 1, "the send reached the service");
  for (const chars of [742_738, 1024 * 1024]) {
    const over = await send(chars);
    assert.equal(over.status, 413, `${chars} characters`);
    assert.equal((await over.json()).error.code, "RequestTooLarge");
  }
  assert.equal(calls.length, before + 1, "nothing more reached the service");
});
