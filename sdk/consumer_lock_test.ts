import assert from "node:assert/strict";
import { LockTimes, refusedForGood } from "./consumer_lock.ts";
import { CmqdError, type ErrorCode } from "./errors.ts";

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

Deno.test("refusedForGood: only the broker's 4xx refusals of the request, not its 'not now'", () => {
  const error = (code: string, status: number) =>
    new CmqdError(code as ErrorCode, code, { status });
  for (
    const refused of [
      error("QueueNotFound", 404),
      error("Unauthenticated", 401),
      error("AccessDenied", 403),
      error("InvalidParameter", 400),
      error("SomeNewRefusal", 422), // a newer broker's code: its 4xx still says "not this"
    ]
  ) assert.equal(refusedForGood(refused), true, refused.code);
  for (
    const unconfirmed of [
      error("RequestTimeout", 408),
      error("BacklogFull", 429),
      error("NoLeader", 503),
      error("InternalError", 500),
      error("UnexpectedResponse", 401), // a proxy's, without a cmqd error body
      error("NetworkError", 0),
      error("Timeout", 0),
      new Error("a custom client's own failure"),
      undefined,
    ]
  ) assert.equal(refusedForGood(unconfirmed), false, String(unconfirmed));
});
