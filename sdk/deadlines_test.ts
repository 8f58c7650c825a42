import assert from "node:assert/strict";
import { Deadlines, type DeadlineTimers } from "./deadlines.ts";

/** A clock and timers the test moves by hand; counts what the timers were asked to do. */
function manual() {
  let now = 0;
  let nextId = 1;
  const pending = new Map<number, { at: number; callback: () => void }>();
  const counts = { set: 0, clear: 0 };
  const timers: DeadlineTimers = {
    set(callback, delayMs) {
      counts.set++;
      const id = nextId++;
      pending.set(id, { at: now + delayMs, callback });
      return id;
    },
    clear(timer) {
      counts.clear++;
      pending.delete(timer as number);
    },
  };
  /** Moves the clock to `to`, running due timers in order. */
  const advance = (to: number) => {
    for (;;) {
      const due = [...pending.entries()].filter(([, timer]) => timer.at <= to)
        .sort(([, a], [, b]) => a.at - b.at)[0];
      if (due === undefined) break;
      pending.delete(due[0]);
      now = due[1].at;
      due[1].callback();
    }
    now = to;
  };
  return { deadlines: new Deadlines(() => now, timers), counts, pending, advance };
}

Deno.test("requests in flight share one timer: joining later or leaving costs no timer call", () => {
  const { deadlines, counts, pending } = manual();
  const all = Array.from({ length: 100 }, () => deadlines.add(30_000, () => {}));
  assert.deepEqual(counts, { set: 1, clear: 0 });
  for (const deadline of all.slice(0, 99)) deadline.cancel();
  assert.deepEqual(counts, { set: 1, clear: 0 });
  all[99].cancel();
  assert.deepEqual(counts, { set: 1, clear: 1 }, "the last one out clears the timer");
  assert.equal(pending.size, 0);
  assert.equal(deadlines.size, 0);
});

Deno.test("an earlier deadline re-arms the timer; each expires once, in its turn", () => {
  const { deadlines, counts, pending, advance } = manual();
  const expired: string[] = [];
  deadlines.add(30_000, () => expired.push("slow"));
  deadlines.add(5, () => expired.push("fast"));
  const cancelled = deadlines.add(10, () => expired.push("cancelled"));
  assert.deepEqual(counts, { set: 2, clear: 1 });
  advance(5);
  assert.deepEqual(expired, ["fast"]);
  cancelled.cancel();
  advance(29_999);
  assert.deepEqual(expired, ["fast"], "the cancelled one never expires, the slow one not yet");
  advance(30_000);
  assert.deepEqual(expired, ["fast", "slow"]);
  assert.equal(pending.size, 0, "nothing left: no timer armed");
  assert.equal(deadlines.size, 0);
  // Cancelling after expiry is harmless.
  cancelled.cancel();
  assert.equal(pending.size, 0);
});

Deno.test("an expiry that cancels or adds others leaves the set consistent", () => {
  const { deadlines, pending, advance } = manual();
  const expired: string[] = [];
  const later = deadlines.add(20, () => expired.push("later"));
  deadlines.add(10, () => {
    expired.push("first");
    later.cancel();
    deadlines.add(5, () => expired.push("added"));
  });
  advance(100);
  assert.deepEqual(expired, ["first", "added"]);
  assert.equal(pending.size, 0);
  assert.equal(deadlines.size, 0);
});

Deno.test("on the real clock a short deadline expires and an idle set holds no timer", async () => {
  const deadlines = new Deadlines();
  const controller = new AbortController();
  deadlines.add(5, () => controller.abort());
  const kept = deadlines.add(60_000, () => assert.fail("cancelled before its time"));
  await new Promise((resolve) => controller.signal.addEventListener("abort", resolve));
  kept.cancel();
  // The test sanitizer fails the test if a timer is still armed here.
  assert.equal(deadlines.size, 0);
});

Deno.test("a deadline past what one timer can wait (2^31 - 1 ms) is reached by re-arming, never by a timer that overflows", () => {
  // setTimeout takes a 32-bit delay: a longer one becomes 1 ms, so a timeoutMs meant as "never"
  // (Number.MAX_SAFE_INTEGER, 1e12) would wake every millisecond for the whole call.
  const { deadlines, pending, advance } = manual();
  const timerMsMax = 2 ** 31 - 1;
  const asked = () => [...pending.values()].map((timer) => timer.at);
  let expired = false;
  const atMs = 3 * timerMsMax + 5;
  deadlines.add(atMs, () => (expired = true));
  let now = 0;
  for (let round = 0; round < 3; round++) {
    assert.ok(asked().every((at) => at - now <= timerMsMax), `asked ${asked()} at ${now}`);
    now = asked()[0];
    advance(now);
    assert.equal(expired, false);
  }
  advance(atMs);
  assert.equal(expired, true);
});
