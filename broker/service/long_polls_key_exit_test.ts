/**
 * A key's count of parked receives (`LongPolls.parkedOf`) goes back down on every way a parked
 * receive ends: a count left behind would refuse that key's long polls for good once it reached
 * the key's share.
 */
import assert from "node:assert/strict";
import { LongPolls } from "./long_polls.ts";

function lot(receivable: { count: number }) {
  return new LongPolls({
    timers: {
      setTimer: (delayMs, callback) => setTimeout(callback, delayMs),
      clearTimer: (handle) => clearTimeout(handle as number),
    },
    now: () => Date.now(),
    nextVisibleAt: () => null,
    receivableCount: (_queue, _now, limit) => Math.min(limit, receivable.count),
    parkedMax: 4,
    keyShare: 0.5,
  });
}

const request = { maxMessages: 1 };
const later = () => Date.now() + 60_000;

Deno.test("a key's parked receives are uncounted however they end: abort, deadline, queue deleted, failure, close, messages, a send's ride", async () => {
  const receivable = { count: 0 };
  const polls = lot(receivable);
  const ends: [string, (park: (queue?: string) => Promise<unknown>) => Promise<unknown>][] = [
    ["abort", () => {
      const controller = new AbortController();
      const parked = polls.park("q", request, later(), controller.signal, { keyId: "K" });
      controller.abort();
      return parked;
    }],
    ["deadline", () => polls.park("q", request, Date.now() + 5, undefined, { keyId: "K" })],
    ["queue deleted", (park) => {
      const parked = park();
      polls.wakeQueue("q");
      return parked;
    }],
    ["failure (leadership moved)", async (park) => {
      const parked = park();
      polls.failAll(new Error("moved"));
      const wake = await parked;
      polls.wakeAll(); // it leads again: the next ones park (a failure stands until then)
      return wake;
    }],
    ["close (wakeAll)", (park) => {
      const parked = park();
      assert.equal(polls.parkedOf("K"), 1, "parked, to be woken by close");
      polls.wakeAll();
      return parked;
    }],
    ["messages", async (park) => {
      const parked = park();
      receivable.count = 1;
      polls.available("q");
      const wake = await parked as { claim?: { release(): void } };
      receivable.count = 0;
      wake.claim?.release();
      return wake;
    }],
    ["a send's ride", async (park) => {
      const parked = park();
      for (const rider of polls.takeRiders("q", 1)) rider.answer(Promise.resolve({ messages: [] }));
      const wake = await parked as { claim?: { release(): void } };
      wake.claim?.release();
      return wake;
    }],
  ];
  for (const [name, end] of ends) {
    const park = (queue = "q") => polls.park(queue, request, later(), undefined, { keyId: "K" });
    await end(park);
    assert.equal(polls.parkedOf("K"), 0, `after ${name}`);
    assert.equal(polls.size, 0, `after ${name}`);
    assert.equal(polls.refusal("K"), null, `after ${name}`);
  }
});
