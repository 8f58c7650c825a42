import assert from "node:assert/strict";
import { Backoff, backoffMs, exponentialRetryDelaySeconds, sleep } from "./retry.ts";

const bounds = { backoffMsMin: 100, backoffMsMax: 1_000 };

Deno.test("backoffMs doubles from the minimum, is capped, and jitters into the upper half", () => {
  const low = () => 0;
  const high = () => 1;
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((attempt) => backoffMs(attempt, bounds, high)), [
    100,
    200,
    400,
    800,
    1_000,
    1_000,
  ]);
  assert.deepEqual([1, 2, 5].map((attempt) => backoffMs(attempt, bounds, low)), [50, 100, 500]);
});

Deno.test("Backoff grows with each failure and starts over after reset", () => {
  const backoff = new Backoff(bounds, () => 1);
  assert.deepEqual([backoff.next(), backoff.next(), backoff.next()], [100, 200, 400]);
  assert.equal(backoff.failures, 3);
  backoff.reset();
  assert.equal(backoff.next(), 100);
  for (let i = 0; i < 100; i++) backoff.next();
  assert.equal(backoff.next(), 1_000, "a long outage stays at the cap");
  assert.throws(() => new Backoff({ backoffMsMin: 0, backoffMsMax: 10 }), RangeError);
  assert.throws(() => new Backoff({ backoffMsMin: 10, backoffMsMax: 5 }), RangeError);
});

Deno.test("the default retry delay is whole seconds, exponential and capped at 300 s", () => {
  const high = () => 1;
  assert.deepEqual(
    [1, 2, 3, 4].map((attempt) => exponentialRetryDelaySeconds(attempt, undefined, high)),
    [
      1,
      2,
      4,
      8,
    ],
  );
  assert.equal(exponentialRetryDelaySeconds(50, undefined, high), 300);
  assert.equal(exponentialRetryDelaySeconds(1, undefined, () => 0), 1, "never below the minimum");
  assert.equal(exponentialRetryDelaySeconds(0), 1, "a receiveCount of 0 counts as the first");
  for (let attempt = 1; attempt < 30; attempt++) {
    assert.ok(Number.isInteger(exponentialRetryDelaySeconds(attempt)));
  }
});

Deno.test("sleep ends early, without rejecting, when its signal aborts", async () => {
  const controller = new AbortController();
  const pending = sleep(60_000, controller.signal);
  controller.abort();
  await pending;
  await sleep(1_000, controller.signal); // Already aborted: at once.
});
