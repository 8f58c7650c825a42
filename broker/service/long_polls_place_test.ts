/**
 * A parked receive's place in line (`Parker`): one that parks again with its first place is
 * served before every receive that first parked after it, however many park again, in whatever
 * order, and whichever way the others leave the line meanwhile.
 */
import assert from "node:assert/strict";
import { ManualClock } from "../replication/testing/mod.ts";
import { LongPolls, type Parker } from "./long_polls.ts";

function lot() {
  const clock = new ManualClock();
  const polls = new LongPolls({
    timers: clock,
    now: () => clock.now(),
    nextVisibleAt: () => null,
    receivableCount: () => 0,
  });
  return { clock, polls };
}

const request = { maxMessages: 1 };

/** Parks `name` with `parker`, recording into `order` who a send took along. */
function park(
  polls: LongPolls,
  name: string,
  parker: Parker,
  order: string[],
  signal?: AbortSignal,
): Promise<void> {
  return polls.park("q", request, Date.now() + 60_000, signal, parker).then((wake) => {
    if (wake.ride !== undefined) order.push(name);
    wake.claim?.release();
  });
}

/** Takes the parked receives along one by one, oldest first, and answers the order taken. */
async function drain(polls: LongPolls, order: string[]): Promise<string[]> {
  order.length = 0;
  while (polls.size > 0) {
    for (const rider of polls.takeRiders("q", 1)) rider.answer(Promise.resolve({ messages: [] }));
    await Promise.resolve();
  }
  await new Promise((resolve) => setTimeout(resolve, 0));
  return [...order];
}

Deno.test("receives that park again keep their first places, among those that never left", async () => {
  const { polls } = lot();
  const order: string[] = [];
  const parkers = new Map(["a", "b", "c", "d", "e"].map((name) => [name, {} as Parker]));
  for (const name of ["a", "b", "c"]) park(polls, name, parkers.get(name)!, order);
  // a and b are taken along by a send whose receive gets them nothing: they park again, b
  // first, after d parked for the first time.
  for (const rider of polls.takeRiders("q", 2)) rider.answer(Promise.resolve({ messages: [] }));
  await new Promise((resolve) => setTimeout(resolve, 0));
  park(polls, "d", parkers.get("d")!, order);
  park(polls, "b", parkers.get("b")!, order);
  park(polls, "a", parkers.get("a")!, order);
  park(polls, "e", parkers.get("e")!, order);
  assert.equal(polls.size, 5);
  assert.deepEqual(await drain(polls, order), ["a", "b", "c", "d", "e"]);
});

Deno.test("a receive that parked again and leaves (abort) is out of line; wakeAll keeps the order", async () => {
  const { polls } = lot();
  const order: string[] = [];
  const parkers = new Map(["a", "b", "c"].map((name) => [name, {} as Parker]));
  for (const name of ["a", "b", "c"]) park(polls, name, parkers.get(name)!, order);
  // Every receive is woken (the node leads again) and they park again in reverse order.
  polls.wakeAll();
  await new Promise((resolve) => setTimeout(resolve, 0));
  const leaving = new AbortController();
  park(polls, "c", parkers.get("c")!, order);
  park(polls, "b", parkers.get("b")!, order, leaving.signal);
  park(polls, "a", parkers.get("a")!, order);
  leaving.abort();
  assert.equal(polls.size, 2);
  assert.deepEqual(await drain(polls, order), ["a", "c"]);
});
