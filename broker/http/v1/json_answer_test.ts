/**
 * A streamed answer is byte for byte what `JSON.stringify` writes, and only answers carrying
 * large bodies are streamed.
 */
import assert from "node:assert/strict";
import { jsonAnswerBody, jsonAnswerStream, streamedBodyCharsMin } from "./json_answer.ts";

async function streamed(value: unknown): Promise<string> {
  return await new Response(jsonAnswerStream(value)).text();
}

Deno.test("a streamed answer is exactly what JSON.stringify writes", async () => {
  const big = '\u0001"\\é😀'.repeat(streamedBodyCharsMin / 4);
  const cases: unknown[] = [
    {},
    { messages: [] },
    { messages: [{ id: "a", body: big, n: 1 }] },
    { messages: [{ body: "x" }, { body: big, attributes: { k: "v" } }], deleted: 2 },
    { deleted: 1, messages: [{ body: big }, undefined, null], failed: [], gone: undefined },
    { first: [1, 2], messages: [{ body: big }], last: { nested: [[]] } },
  ];
  for (const value of cases) assert.equal(await streamed(value), JSON.stringify(value));
});

Deno.test("only an answer whose messages carry large bodies is streamed", async () => {
  const small = { messages: [{ body: "x".repeat(streamedBodyCharsMin - 1) }] };
  assert.equal(jsonAnswerBody(small), JSON.stringify(small));
  assert.equal(jsonAnswerBody({ deleted: 3 }), '{"deleted":3}');
  const large = {
    messages: [
      { body: "x".repeat(streamedBodyCharsMin / 2) },
      { body: "y".repeat(streamedBodyCharsMin / 2) },
    ],
  };
  const body = jsonAnswerBody(large);
  assert.ok(body instanceof ReadableStream);
  assert.equal(await new Response(body).text(), JSON.stringify(large));
});

Deno.test("a v1 receive of large bodies answers them whole, on the direct path and hono's", async () => {
  const { fuzzNode } = await import("../_door_fuzz.ts");
  await using node = fuzzNode();
  const post = (path: string, body: unknown, type = "application/json") =>
    node.send(
      new Request(`http://127.0.0.1:8080/v1/queues/${path}`, {
        method: path.includes("/") ? "POST" : "PUT",
        headers: { "content-type": type },
        body: JSON.stringify(body),
      }),
    );
  assert.equal((await post("big", { maxMessageBytes: 1024 * 1024 })).status, 201);
  const bodies = ["\u0001", "a", '"', "é"].map((c) => c.repeat(512 * 1024));
  for (const body of bodies) {
    assert.equal((await post("big/messages", { messages: [{ body }] })).status, 200);
  }
  const received: string[] = [];
  // Plain (the direct path or the hot route), then a media type only the zod route takes.
  for (const type of ["application/json", "application/json; charset=utf-8"]) {
    const answer = await post("big/messages/receive", { maxMessages: 2 }, type);
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.headers.get("content-type"), "application/json");
    const messages = JSON.parse(answer.text).messages as { body: string }[];
    assert.equal(messages.length, 2);
    received.push(...messages.map((m) => m.body));
  }
  assert.deepEqual(received.sort(), [...bodies].sort());
  assert.deepEqual(node.logged, []);
});
