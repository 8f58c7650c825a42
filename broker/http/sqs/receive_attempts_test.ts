/**
 * The door's memory of receive attempts: bounded in count and bytes (oldest first out, one
 * caller key at most its share), five minutes of life on its clock, spent by a change of one of
 * its messages.
 */
import assert from "node:assert/strict";
import {
  answerBytes,
  receiveAttemptLifetimeMs,
  type ReceiveAttemptLimits,
  ReceiveAttempts,
} from "./receive_attempts.ts";

function memory(limits: ReceiveAttemptLimits = {}) {
  const clock = { nowMs: 0, now: () => clock.nowMs };
  const attempts = new ReceiveAttempts(clock, limits);
  const remember = (key: string, bytes = 100) =>
    attempts.remember(key, { answer: { Messages: [{ Body: key }] }, handles: [`h-${key}`], bytes });
  const remembered = () => ["a", "b", "c", "d"].filter((key) => attempts.find(key) !== undefined);
  return { clock, attempts, remember, remembered };
}

Deno.test("at most entriesMax answers are remembered, the oldest forgotten first", () => {
  const { attempts, remember, remembered } = memory({ entriesMax: 2 });
  remember("a");
  remember("b");
  remember("c");
  assert.deepEqual(remembered(), ["b", "c"]);
  assert.equal(attempts.size, 2);
});

Deno.test("at most bytesMax bytes of answers are remembered; a bigger one is not remembered", () => {
  const { remember, remembered } = memory({ bytesMax: 250 });
  remember("a");
  remember("b");
  remember("c", 100); // 300 > 250: a goes
  assert.deepEqual(remembered(), ["b", "c"]);
  remember("d", 251);
  assert.deepEqual(remembered(), ["b", "c"]);
  remember("d", 250); // takes the whole room
  assert.deepEqual(remembered(), ["d"]);
});

Deno.test("one caller key holds at most its share of the answers; it forgets its own first", () => {
  // entriesMax 10, bytesMax 1,000: a key's share is 8 answers and 800 bytes.
  const attempts = new ReceiveAttempts({ now: () => 0 }, { entriesMax: 10, bytesMax: 1_000 });
  const remember = (caller: string | null, id: string, bytes = 100) =>
    attempts.remember(ReceiveAttempts.keyOf("q", caller, id), {
      answer: {},
      handles: [`h-${caller}-${id}`],
      bytes,
      caller,
    });
  const held = (caller: string | null, ids: string[]) =>
    ids.filter((id) => attempts.find(ReceiveAttempts.keyOf("q", caller, id)) !== undefined);
  remember("victim", "v1");
  remember("victim", "v2");
  // A busy key receiving with fresh ids: its own oldest go, not the victim's answers.
  const busy = Array.from({ length: 20 }, (_, i) => `b${i}`);
  for (const id of busy) remember("busy", id);
  assert.deepEqual(held("victim", ["v1", "v2"]), ["v1", "v2"]);
  assert.deepEqual(held("busy", busy), busy.slice(12));
  assert.equal(attempts.sizeOf("busy"), 8);
  assert.equal(attempts.size, 10);
  // The bytes share: one 500-byte answer of busy drops five of its own, none of the victim's.
  remember("busy", "big", 500);
  assert.deepEqual(held("victim", ["v1", "v2"]), ["v1", "v2"]);
  assert.deepEqual(held("busy", [...busy, "big"]), [...busy.slice(17), "big"]);
  // An answer bigger than a key's share alone is not remembered, and drops nothing.
  remember("victim", "huge", 801);
  assert.deepEqual(held("victim", ["v1", "v2", "huge"]), ["v1", "v2"]);
  // Below its share a key makes room from the oldest of all when the memory is full (1,000
  // bytes held): v1 goes.
  remember("third", "t1");
  assert.deepEqual(held("victim", ["v1", "v2"]), ["v2"]);
  assert.deepEqual(held("third", ["t1"]), ["t1"]);
  // Receives without a key (no credentials) count only to the whole bounds.
  const anonymous = Array.from({ length: 12 }, (_, i) => `a${i}`);
  for (const id of anonymous) remember(null, id);
  assert.deepEqual(held(null, anonymous), anonymous.slice(2));
  assert.equal(attempts.size, 10);
  assert.equal(attempts.sizeOf("busy"), 0, "forgotten answers leave the key's count");
});

Deno.test("the caller share must be in (0, 1]", () => {
  for (const callerShare of [0, -0.5, 1.5, NaN]) {
    assert.throws(() => new ReceiveAttempts({ now: () => 0 }, { callerShare }), RangeError);
  }
});

Deno.test("an answer is forgotten five minutes after it was remembered", () => {
  const { clock, attempts, remember, remembered } = memory();
  remember("a");
  clock.nowMs = 60_000;
  remember("b");
  clock.nowMs = receiveAttemptLifetimeMs - 1;
  assert.deepEqual(remembered(), ["a", "b"]);
  clock.nowMs = receiveAttemptLifetimeMs;
  assert.deepEqual(remembered(), ["b"]);
  assert.equal(attempts.size, 1, "dropped, not just hidden");
  clock.nowMs = receiveAttemptLifetimeMs + 60_000;
  assert.deepEqual(remembered(), []);
});

Deno.test("a change of one of its handles spends the answer holding it, no other", () => {
  const { attempts, remember } = memory();
  remember("a");
  remember("b");
  attempts.touched(["h-b", "not remembered"]);
  assert.equal(attempts.find("a")!.spent, false);
  assert.equal(attempts.find("b")!.spent, true);
  // A key remembered anew starts unspent; the handles of the one it replaced are let go.
  attempts.remember("b", { answer: {}, handles: ["h-b2"], bytes: 1 });
  attempts.touched(["h-b"]);
  assert.equal(attempts.find("b")!.spent, false);
});

Deno.test("turn runs one receive of a key at a time, others at once", async () => {
  const { attempts } = memory();
  const order: string[] = [];
  let release = () => {};
  const first = attempts.turn("k", async () => {
    order.push("first starts");
    await new Promise<void>((resolve) => release = resolve);
    order.push("first ends");
    return 1;
  });
  const second = attempts.turn("k", () => {
    order.push("second starts");
    return Promise.resolve(2);
  });
  const other = await attempts.turn("other", () => Promise.resolve(3));
  assert.equal(other, 3);
  assert.deepEqual(order, ["first starts"]);
  release();
  assert.deepEqual(await Promise.all([first, second]), [1, 2]);
  assert.deepEqual(order, ["first starts", "first ends", "second starts"]);
  // A failed receive lets the next one run.
  await assert.rejects(attempts.turn("k", () => Promise.reject(new Error("lost"))));
  assert.equal(await attempts.turn("k", () => Promise.resolve(4)), 4);
});

Deno.test("answerBytes counts bodies, handles and attributes as UTF-16", () => {
  const message = { body: "hello", receiptHandle: "handle", attributes: { k: "vv" } };
  assert.equal(answerBytes([message]), 2 * (5 + 6 + 256 + 3));
  assert.equal(answerBytes([]), 0);
});

/** A clock whose timers fire as `advance` moves it on. */
function fakeTime() {
  const timers = new Map<number, { at: number; callback: () => void }>();
  let nextId = 1;
  const time = {
    nowMs: 0,
    now: () => time.nowMs,
    get pending() {
      return timers.size;
    },
    setTimer(delayMs: number, callback: () => void): number {
      timers.set(nextId, { at: time.nowMs + delayMs, callback });
      return nextId++;
    },
    clearTimer(handle: unknown) {
      timers.delete(handle as number);
    },
    advance(ms: number) {
      const target = time.nowMs + ms;
      for (;;) {
        const due = [...timers].filter(([, timer]) => timer.at <= target)
          .sort(([, a], [, b]) => a.at - b.at)[0];
        if (due === undefined) break;
        timers.delete(due[0]);
        time.nowMs = due[1].at;
        due[1].callback();
      }
      time.nowMs = target;
    },
  };
  return time;
}

Deno.test("expired answers are dropped by a timer, with no further use of the memory", () => {
  const time = fakeTime();
  const attempts = new ReceiveAttempts(time, {}, time);
  const remember = (key: string) =>
    attempts.remember(key, { answer: { Messages: [] }, handles: [`h-${key}`], bytes: 100 });
  assert.equal(time.pending, 0, "nothing remembered: no timer");
  remember("a");
  time.advance(60_000);
  remember("b");
  assert.equal(time.pending, 1, "one timer, for the oldest answer");
  time.advance(receiveAttemptLifetimeMs - 60_000);
  assert.equal(attempts.size, 1, "a dropped at its expiry");
  time.advance(60_000);
  assert.equal(attempts.size, 0, "b dropped at its expiry");
  assert.equal(time.pending, 0, "an empty memory holds no timer");
});

Deno.test("close() clears the expiry timer and arms no other", () => {
  const time = fakeTime();
  const attempts = new ReceiveAttempts(time, {}, time);
  const remember = (key: string) =>
    attempts.remember(key, { answer: { Messages: [] }, handles: [`h-${key}`], bytes: 100 });
  remember("a");
  assert.equal(time.pending, 1);
  attempts.close();
  assert.equal(time.pending, 0);
  remember("b");
  assert.equal(time.pending, 0);
  time.advance(receiveAttemptLifetimeMs);
  assert.equal(attempts.find("b"), undefined, "still dropped on use");
});
