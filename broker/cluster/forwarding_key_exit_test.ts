/**
 * A key's count of relayed forwards goes back down on every way a forward ends: a count left
 * behind would refuse that key's requests 503 NotReady for good once it reached the key's share.
 * With a share of one forward, the key's next request is relayed only if the count is back at 0.
 */
import assert from "node:assert/strict";
import { forwardingHandler } from "./forwarding.ts";

Deno.test("a key's relayed forwards are uncounted however they end: answered, leader unreachable, client gone, leader changed, body over the limit", async () => {
  let leader = "http://leader:1";
  let leaderChanged = () => {};
  let relayed = 0;
  /** How the leader's fetch ends for the next forward. */
  let behave: (signal: AbortSignal) => Promise<Response> = () => Promise.resolve(new Response());
  const handler = forwardingHandler({
    view: {
      isLeader: () => false,
      leaderUrl: () => leader,
      onLeaderChange: (listener) => (leaderChanged = listener),
    },
    local: () => new Response("local"),
    admit: () => Promise.resolve({ body: null, keyId: "K" }),
    requestBytesMax: 16,
    forwardsInFlightMax: 2,
    forwardsKeyShare: 0.5, // one forward of K at a time
    fetch: ((_url: string, init: RequestInit) => {
      relayed++;
      return behave(init.signal!);
    }) as typeof fetch,
  });
  const aborted = (signal: AbortSignal) =>
    new Promise<Response>((_, reject) =>
      signal.addEventListener("abort", () => reject(signal.reason))
    );
  const get = (signal?: AbortSignal) => handler(new Request("http://me/v1/queues/a", { signal }));
  const ends: [string, () => Promise<Response>, number][] = [
    ["answered", () => get(), 200],
    ["leader unreachable", () => {
      behave = () => Promise.reject(new TypeError("connection refused"));
      return get();
    }, 503],
    ["client gone", async () => {
      behave = aborted;
      const client = new AbortController();
      const answer = get(client.signal);
      await new Promise((resolve) => setTimeout(resolve, 0));
      client.abort();
      return answer;
    }, 503],
    ["leader changed", async () => {
      behave = aborted;
      const answer = get();
      await new Promise((resolve) => setTimeout(resolve, 0));
      leader = leader === "http://leader:1" ? "http://leader:2" : "http://leader:1";
      leaderChanged();
      return answer;
    }, 503],
    ["body over the limit", () => {
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new Uint8Array(64));
          controller.close();
        },
      });
      return handler(new Request("http://me/v1/queues/a/messages", { method: "POST", body }));
    }, 413],
  ];
  for (const [name, end, status] of ends) {
    const ended = await end();
    assert.equal(ended.status, status, `${name}: ${await ended.text()}`);
    behave = () => Promise.resolve(new Response("ok"));
    const before = relayed;
    const next = await get();
    assert.equal(next.status, 200, `after ${name}: ${await next.text()}`);
    assert.equal(relayed, before + 1, `after ${name}`);
  }
});
