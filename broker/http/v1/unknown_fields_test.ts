/**
 * An unknown field is named in the `400 InvalidParameter` answer, but the answer stays small
 * whatever the body held: at most 10 other unknown names are listed (then how many more), and a
 * name over 100 characters is shortened. Before, every unknown name was listed whole: 300,000
 * keys made a 2.5 MB answer, one key of 1 MB a 2 MB one.
 */
import assert from "node:assert/strict";
import { fuzzNode } from "../_door_fuzz.ts";

function send(body: string): Request {
  return new Request("http://127.0.0.1:8080/v1/queues/jobs/messages", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
}

Deno.test("an answer naming unknown fields lists 10 of them at most, each 100 characters at most", async () => {
  await using node = fuzzNode();
  const created = await node.send(
    new Request("http://127.0.0.1:8080/v1/queues/jobs", { method: "PUT" }),
  );
  assert.equal(created.status, 201, created.text);
  const keys = Array.from({ length: 16_000 }, (_, i) => `"k${i}":1`).join(",");
  const many = await node.send(send(`{"messages":[{"body":"a"}],${keys}}`));
  assert.equal(many.status, 400);
  const error = JSON.parse(many.text).error;
  assert.equal(error.code, "InvalidParameter");
  assert.equal(error.field, "k0");
  assert.equal(
    error.message,
    "k0: unknown field (and k1, k2, k3, k4, k5, k6, k7, k8, k9, k10, and 15989 more)",
  );
  const long = "x".repeat(1_000_000);
  const one = await node.send(send(JSON.stringify({ messages: [{ body: "a" }], [long]: 1 })));
  assert.equal(one.status, 400);
  const shortened = JSON.parse(one.text).error;
  assert.equal(shortened.field, `${"x".repeat(100)}…`);
  assert.equal(shortened.message, `${"x".repeat(100)}…: unknown field`);
  assert.ok(one.text.length < 1000);
  // A few short ones are named as before.
  const few = await node.send(send(`{"messages":[{"body":"a"}],"mesages":1,"x":2}`));
  assert.equal(JSON.parse(few.text).error.message, "mesages: unknown field (and x)");
  assert.equal((await node.broker.getQueue("jobs")).activeMessages, 0);
});
