import assert from "node:assert/strict";
import { LockTimes } from "./consumer_lock.ts";

Deno.test("a lock's soonest deadline: the confirmed one while ahead, then the unanswered renewals' in turn", () => {
  const lock = new LockTimes(1_000);
  lock.unconfirmed(1_500);
  lock.unconfirmed(1_750);
  assert.equal(lock.soonestMs(900), 1_000);
  // Past the confirmed deadline the lock holds only if a renewal was applied: the soonest of them.
  assert.equal(lock.soonestMs(1_000), 1_500);
  assert.equal(lock.soonestMs(1_600), 1_750);
  // None ahead: the latest, already past.
  assert.equal(lock.soonestMs(2_000), 1_750);
  // A confirmed renewal supersedes the unanswered ones before it.
  lock.confirmed(3_000);
  assert.equal(lock.soonestMs(3_500), 3_000);
});

Deno.test("a lock keeps the deadlines of its latest unanswered renewals only", () => {
  const lock = new LockTimes(0);
  for (let index = 1; index <= 100; index++) lock.unconfirmed(index * 10);
  // The oldest were dropped: the soonest kept is a later one.
  assert.ok(lock.soonestMs(1) > 10);
  assert.equal(lock.soonestMs(995), 1_000);
});
