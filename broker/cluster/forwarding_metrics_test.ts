import assert from "node:assert/strict";
import { Metrics } from "../http/mod.ts";
import { forwardingHandler } from "./forwarding.ts";

/** The counter's value for one outcome in `metrics`' text, 0 when absent. */
function forwarded(metrics: Metrics, outcome: string): number {
  const line = metrics.text().split("\n").find((text) =>
    text.startsWith(`cmqd_forwarded_requests_total{outcome="${outcome}"} `)
  );
  return line === undefined ? 0 : Number(line.split(" ")[1]);
}

const local = () => new Response("local");

Deno.test("a follower counts its forwards in /metrics, by outcome", async () => {
  const metrics = new Metrics();
  let leaderUrl: string | null = "http://leader:1";
  let answer: () => Promise<Response> = () => Promise.resolve(new Response("ok", { status: 201 }));
  const handler = forwardingHandler({
    view: { isLeader: () => false, leaderUrl: () => leaderUrl },
    local,
    admit: (request) =>
      Promise.resolve(
        request.headers.has("x-refuse")
          ? { refusal: new Response("no", { status: 403 }) }
          : { body: null },
      ),
    requestBytesMax: 16,
    fetch: (() => answer()) as typeof fetch,
    metrics,
  });
  const post = (headers: Record<string, string> = {}, body = "{}") =>
    handler(new Request("http://me/v1/queues/a/messages", { method: "POST", headers, body }));

  assert.equal((await post()).status, 201);
  assert.equal((await post()).status, 201);
  assert.equal((await post({ "x-refuse": "1" })).status, 403);
  assert.equal((await post({}, "x".repeat(64))).status, 413);
  answer = () => Promise.reject(new TypeError("connection refused"));
  assert.equal((await post()).status, 503);
  leaderUrl = null;
  assert.equal((await post()).status, 503);
  // Operations endpoints are this node's own: not forwards.
  await handler(new Request("http://me/metrics"));

  assert.equal(forwarded(metrics, "answered"), 2);
  assert.equal(forwarded(metrics, "refused"), 1);
  assert.equal(forwarded(metrics, "too_large"), 1);
  assert.equal(forwarded(metrics, "leader_unreachable"), 1);
  assert.equal(forwarded(metrics, "no_leader"), 1);
  const text = metrics.text();
  assert.match(text, /^cmqd_forwards_in_flight 0$/m);
  assert.match(text, /^cmqd_forward_duration_seconds_count 2$/m);
});

Deno.test("the leader counts no forwards", async () => {
  const metrics = new Metrics();
  const handler = forwardingHandler({
    view: { isLeader: () => true, leaderUrl: () => "http://leader:1" },
    local,
    requestBytesMax: 16,
    metrics,
  });
  await handler(new Request("http://me/v1/queues", { method: "GET" }));
  assert.doesNotMatch(metrics.text(), /^cmqd_forwarded_requests_total\{/m);
});
