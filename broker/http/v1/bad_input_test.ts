import assert from "node:assert/strict";
import { messageLimits } from "../../service/mod.ts";
import { createApp, Metrics } from "../mod.ts";
import { badInputCases, requestOf } from "./_bad_input_cases.ts";
import { FakeStatus, jsonRequest, recordingService } from "../testing/mod.ts";

function door(requestBytesMax?: number) {
  const { service, calls } = recordingService();
  const app = createApp({
    service,
    status: new FakeStatus(),
    metrics: new Metrics(),
    requestBytesMax,
  });
  return { app, calls };
}

Deno.test("every bad input gets its exact status, code and field, and never reaches the service", async (t) => {
  const { app, calls } = door();
  const cases = badInputCases();
  assert.ok(cases.length > 250, `${cases.length} cases`);
  for (const badCase of cases) {
    await t.step(badCase.name, async () => {
      const response = await app.request(badCase.path, requestOf(badCase));
      const body = await response.json();
      assert.equal(response.status, badCase.status, JSON.stringify(body));
      assert.equal(body.error.code, badCase.code, JSON.stringify(body));
      assert.equal(body.error.field, badCase.field, JSON.stringify(body));
      if (badCase.field !== undefined) {
        assert.ok(body.error.message.startsWith(`${badCase.field}: `), body.error.message);
      }
      if (badCase.message !== undefined) {
        assert.ok(body.error.message.includes(badCase.message), body.error.message);
      }
      assert.equal(body.error.requestId, response.headers.get("x-request-id"));
      assert.deepEqual(calls, []);
    });
  }
});

Deno.test("a declared content-length over the limit is refused before reading the body", async () => {
  const { app, calls } = door(1024);
  let pulled = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled += 1;
      controller.enqueue(new Uint8Array(512));
    },
  });
  for (
    const [method, path] of [["POST", "/v1/queues/q/messages"], ["PUT", "/v1/queues/q"], [
      "POST",
      "/v1/queues/q/purge",
    ]]
  ) {
    const response = await app.request(path, {
      method,
      body: method === "PUT" ? body : "{}",
      headers: { "content-type": "application/json", "content-length": "1025" },
      // @ts-ignore: Deno needs duplex for a stream body
      duplex: "half",
    });
    assert.equal(response.status, 413, path);
    assert.equal((await response.json()).error.code, "RequestTooLarge");
  }
  assert.ok(pulled <= 1, `pulled ${pulled} chunks`);
  assert.deepEqual(calls, []);
});

Deno.test("a chunked body is cut off as soon as it passes the limit", async () => {
  const { app, calls } = door(64 * 1024);
  let pulledBytes = 0;
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulledBytes += 16 * 1024;
      controller.enqueue(new Uint8Array(16 * 1024).fill(0x20));
    },
  });
  const response = await app.request("/v1/queues/q/messages", {
    method: "POST",
    body: endless,
    headers: { "content-type": "application/json" },
    // @ts-ignore: Deno needs duplex for a stream body
    duplex: "half",
  });
  assert.equal(response.status, 413);
  assert.equal((await response.json()).error.code, "RequestTooLarge");
  assert.ok(pulledBytes <= 64 * 1024 + 2 * 16 * 1024, `read ${pulledBytes} bytes`);
  assert.deepEqual(calls, []);
});

Deno.test("the default limit admits a full 4 MiB batch and refuses a bigger body", async () => {
  const { app, calls } = door();
  const bodyChars = messageLimits.requestBytesMax / 256 - 64;
  const messages = Array.from({ length: 256 }, () => ({ body: "x".repeat(bodyChars) }));
  const fits = await app.request("/v1/queues/q/messages", jsonRequest("POST", { messages }));
  assert.equal(fits.status, 200);
  assert.equal(calls.length, 1);
  const huge = "x".repeat(messageLimits.requestBytesMax + 300 * 1024);
  const refused = await app.request(
    "/v1/queues/q/messages",
    jsonRequest("POST", { messages: [{ body: huge }] }),
  );
  assert.equal(refused.status, 413);
  assert.equal((await refused.json()).error.code, "RequestTooLarge");
  assert.equal(calls.length, 1);
});

Deno.test("a huge string in a wrong place is not echoed back in the error", async () => {
  const { app } = door();
  const response = await app.request(
    "/v1/queues/q",
    jsonRequest("PUT", { visibilityTimeoutSeconds: "9".repeat(100_000) }),
  );
  assert.equal(response.status, 400);
  const { error } = await response.json();
  assert.ok(error.message.length < 200, error.message);
});

Deno.test("a body whose bytes are not UTF-8 is refused, not stored with U+FFFD in their place", async () => {
  const { app, calls } = door();
  const utf8 = new TextEncoder();
  const withBytes = (before: string, bytes: number[], after: string) =>
    new Uint8Array([...utf8.encode(before), ...bytes, ...utf8.encode(after)]);
  const notUtf8 = [
    [0xff],
    [0xc3], // a lead byte without its continuation
    [0xed, 0xa0, 0x80], // a surrogate encoded as UTF-8 (CESU-8)
    [0xc0, 0xaf], // an overlong '/'
  ];
  const paths = ["/v1/queues/q/messages", "/v1/queues/q/messages/receive", "/v1/queues/q"];
  for (const bytes of notUtf8) {
    for (const [index, path] of paths.entries()) {
      const [method, body] = index === 0
        ? ["POST", withBytes('{"messages":[{"body":"a', bytes, 'b"}]}')]
        : index === 1
        ? ["POST", withBytes('{"maxMessages":1', bytes, "}")]
        : ["PUT", withBytes('{"tags":{"k":"', bytes, '"}}')];
      const response = await app.request(path, {
        method,
        body,
        headers: { "content-type": "application/json" },
      });
      const answer = await response.json();
      assert.equal(response.status, 400, JSON.stringify(answer));
      assert.equal(answer.error.code, "MalformedRequest");
      assert.match(answer.error.message, /not valid UTF-8/);
    }
  }
  assert.deepEqual(calls, []);
  // U+FFFD sent as such is text like any other.
  const response = await app.request("/v1/queues/q/messages", {
    method: "POST",
    body: withBytes('{"messages":[{"body":"a', [0xef, 0xbf, 0xbd], 'b"}]}'),
    headers: { "content-type": "application/json" },
  });
  assert.equal(response.status, 200, await response.text());
  assert.deepEqual(calls.map(({ method, args }) => [method, args[1]]), [
    ["sendMessages", [{ body: "a\uFFFDb" }]],
  ]);
});

Deno.test("a purge is served without a body, with an empty one and with {}", async () => {
  const { app, calls } = door();
  const requests: RequestInit[] = [
    { method: "POST" },
    { method: "POST", headers: { "content-type": "application/json" } },
    jsonRequest("POST", {}),
    jsonRequest("POST", "{}", { "content-type": "application/json; charset=utf-8" }),
  ];
  for (const init of requests) {
    const response = await app.request("/v1/queues/q/purge", init);
    assert.equal(response.status, 200, await response.text());
  }
  assert.deepEqual(calls.map(({ method, args }) => [method, args[0]]), [
    ["purge", "q"],
    ["purge", "q"],
    ["purge", "q"],
    ["purge", "q"],
  ]);
});
