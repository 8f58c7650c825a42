/**
 * A follower frozen (SIGSTOP, a paused VM) while it holds a client's request does not forward
 * it on resume once it was held past the bound (`HeldRequests`), nor one whose client went away;
 * a leader's send and publish paths refuse while a freeze past the bound is unnoticed or just
 * noticed (`heldRefusal`).
 */
import assert from "node:assert/strict";
import { forwardingHandler } from "./forwarding.ts";
import { heldRefusal, HeldRequests } from "../service/mod.ts";

function manualClock() {
  const clock = { ms: 1_000 };
  return { clock, now: () => clock.ms };
}

Deno.test("a request held past the bound before it is forwarded is refused 503 NotReady, not sent", async () => {
  const { clock, now } = manualClock();
  const held = new HeldRequests({ msMax: 60_000, now });
  const sent: string[] = [];
  const handler = forwardingHandler({
    view: { isLeader: () => false, leaderUrl: () => "http://leader" },
    local: () => new Response("local"),
    // The node froze during the admission check, after the request arrived.
    admit: () => {
      clock.ms += 300_000;
      return Promise.resolve({ body: new TextEncoder().encode("{}") });
    },
    requestBytesMax: 1024,
    held,
    fetch: (input) => {
      sent.push(String(input));
      return Promise.resolve(new Response("{}", { status: 200 }));
    },
  });
  const response = await handler(
    new Request("http://me/v1/queues/a/messages", { method: "POST", body: "{}" }),
  );
  const body = await response.json();
  assert.equal(response.status, 503, JSON.stringify(body));
  assert.equal(response.headers.get("retry-after"), "1");
  assert.equal(body.error.code, "NotReady");
  assert.match(body.error.message, /^request held 300 s \(the node was frozen\?\)/);
  assert.equal(body.error.outcomeUnknown, undefined, "nothing was sent");
  assert.equal(sent.length, 0);
  // Held less than the bound: forwarded.
  const quick = forwardingHandler({
    view: { isLeader: () => false, leaderUrl: () => "http://leader" },
    local: () => new Response("local"),
    requestBytesMax: 1024,
    held,
    fetch: (input) => {
      sent.push(String(input));
      return Promise.resolve(new Response("{}", { status: 200 }));
    },
  });
  const forwarded = await quick(new Request("http://me/v1/queues/a/messages", { method: "POST" }));
  await forwarded.body?.cancel();
  assert.equal(forwarded.status, 200);
  assert.deepEqual(sent, ["http://leader/v1/queues/a/messages"]);
});

Deno.test("a request whose client went away before it is forwarded is not sent", async () => {
  const sent: string[] = [];
  const gone = new AbortController();
  const handler = forwardingHandler({
    view: { isLeader: () => false, leaderUrl: () => "http://leader" },
    local: () => new Response("local"),
    admit: () => {
      gone.abort(); // its connection closed while the node was frozen
      return Promise.resolve({ body: new TextEncoder().encode("{}") });
    },
    requestBytesMax: 1024,
    // A fetch that would send whatever its signal says.
    fetch: (input) => {
      sent.push(String(input));
      return Promise.resolve(new Response("{}", { status: 200 }));
    },
  });
  const response = await handler(
    new Request("http://me/v1/queues/a/messages", {
      method: "POST",
      body: "{}",
      signal: gone.signal,
    }),
  );
  await response.body?.cancel();
  assert.equal(response.status, 503);
  assert.equal(sent.length, 0);
});

Deno.test("a leader's sends are refused while a freeze past the bound is unnoticed or just noticed", () => {
  const { clock, now } = manualClock();
  const held = new HeldRequests({ msMax: 60_000, now, tickMs: 1000, graceMs: 2000 });
  assert.equal(heldRefusal(), null, "no bound started: nothing to refuse");
  held.start();
  try {
    assert.equal(heldRefusal(), null, "running: nothing to refuse");
    clock.ms += 61_000; // frozen with a request read before it, say, not yet proposed
    assert.match(heldRefusal()!.message, /^request held 61 s \(the node was frozen\?\)/);
    held.tick(); // noticed: within the grace, still refused
    clock.ms += 1_500;
    assert.match(heldRefusal()!.message, /^request held 63 s/);
    clock.ms += 1_000; // past the grace
    held.tick();
    assert.equal(heldRefusal(), null);
    clock.ms += 30_000; // a freeze shorter than the bound refuses nothing
    held.tick();
    assert.equal(heldRefusal(), null);
  } finally {
    held.stop();
  }
  assert.equal(heldRefusal(), null, "stopped: no bound");
});

Deno.test("a request read just after a freeze counts from the freeze's start", () => {
  const { clock, now } = manualClock();
  const held = new HeldRequests({ msMax: 60_000, now, tickMs: 1000, graceMs: 2000 });
  held.start();
  try {
    clock.ms += 900;
    held.tick();
    const before = clock.ms;
    assert.equal(held.arrival(), before, "running: arrival is now");
    clock.ms += 400_000; // SIGSTOPped; the request waited in the kernel meanwhile
    // Read before the ticker noticed the freeze.
    assert.equal(held.arrival(), before);
    assert.match(held.refusal(held.arrival())!.message, /held 400 s/);
    held.tick(); // the ticker notices
    clock.ms += 500;
    assert.equal(held.arrival(), before, "read within the grace after the freeze");
    clock.ms += 1000;
    held.tick();
    clock.ms += 1000;
    assert.equal(held.arrival(), clock.ms, "later ones are fresh");
    assert.equal(held.refusal(held.arrival()), null);
  } finally {
    held.stop();
  }
  assert.throws(() => new HeldRequests({ msMax: 0 }), RangeError);
});
