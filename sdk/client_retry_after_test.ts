/**
 * The client's waits between automatic retries, under `retry.attemptsMax: Infinity`: a
 * `Retry-After` is honoured when it asks for longer than the back-off, never shorter than it (a
 * `Retry-After: 0` makes no spin), cut at 30 s; a refused connection moves on to the next node at
 * once, but a round of nodes that all refused backs off before the next.
 */
import assert from "node:assert/strict";
import { CmqdClient } from "./mod.ts";

function noLeader(retryAfter: string): Response {
  return Response.json(
    { error: { code: "NoLeader", message: "election", requestId: "r" } },
    { status: 503, headers: { "retry-after": retryAfter } },
  );
}

/**
 * A client whose every answer is `answer()`, on a fake clock that only its waits move: its call
 * is aborted once `budgetMs` of waits passed, or after `attemptsCap` attempts (a spin would
 * otherwise never move the clock).
 */
function clockedClient(
  answer: () => Response,
  options: { budgetMs: number; attemptsCap: number; retry?: object; baseUrl?: string[] },
) {
  const controller = new AbortController();
  const sleeps: number[] = [];
  let attempts = 0;
  const urls: string[] = [];
  let nowMs = 0;
  const client = new CmqdClient({
    baseUrl: options.baseUrl ?? "http://node-a:8080",
    fetch: (input) => {
      attempts++;
      urls.push(new URL(input instanceof Request ? input.url : input).host);
      if (attempts >= options.attemptsCap) controller.abort();
      return Promise.resolve().then(answer);
    },
    retry: { attemptsMax: Infinity, ...options.retry },
    sleep: (ms) => {
      sleeps.push(ms);
      nowMs += ms;
      if (nowMs >= options.budgetMs) controller.abort();
      return Promise.resolve();
    },
  });
  return { client, signal: controller.signal, sleeps, urls, attempts: () => attempts };
}

Deno.test("a 503 with Retry-After: 0 is retried after the back-off, not at once: no spin", async () => {
  const { client, signal, sleeps, attempts } = clockedClient(() => noLeader("0"), {
    budgetMs: 10_000,
    attemptsCap: 1_000,
  });
  const error = await client.deleteMessages("orders", ["h"], { signal }).catch((e) => e);
  assert.equal(error.code, "Aborted");
  // 10 s of back-off from 50 ms doubling to 2 s (jittered into the upper half): 25 ms, 50 ms,
  // 100 ms … then 1–2 s a retry, a dozen or so attempts; the spin made a thousand.
  assert.ok(attempts() <= 20, `${attempts()} attempts in 10 s`);
  for (const [index, ms] of sleeps.entries()) {
    const ceiling = Math.min(2_000, 50 * 2 ** index);
    assert.ok(ms >= ceiling / 2 && ms <= ceiling, `retry ${index + 1} waited ${ms} ms`);
  }
});

Deno.test("a Retry-After in the past (an HTTP date) is no spin either", async () => {
  const past = new Date(Date.now() - 60_000).toUTCString();
  const { client, signal, attempts } = clockedClient(() => noLeader(past), {
    budgetMs: 10_000,
    attemptsCap: 1_000,
  });
  const error = await client.getQueue("orders", { signal }).catch((e) => e);
  assert.equal(error.code, "Aborted");
  assert.ok(attempts() <= 20, `${attempts()} attempts in 10 s`);
});

Deno.test("a Retry-After longer than the back-off is honoured, up to 30 s", async () => {
  for (const [retryAfter, expectedMs] of [["3", 3_000], ["600", 30_000]] as const) {
    const { client, signal, sleeps } = clockedClient(() => noLeader(retryAfter), {
      budgetMs: Infinity,
      attemptsCap: 4,
    });
    await client.getQueue("orders", { signal }).catch(() => undefined);
    assert.deepEqual(sleeps, [expectedMs, expectedMs, expectedMs], `Retry-After: ${retryAfter}`);
  }
});

Deno.test("a back-off longer than Retry-After (and than its 30 s cut) is kept", async () => {
  const { client, signal, sleeps } = clockedClient(() => noLeader("1"), {
    budgetMs: Infinity,
    attemptsCap: 3,
    retry: { backoffMsMin: 40_000, backoffMsMax: 40_000 },
  });
  await client.getQueue("orders", { signal }).catch(() => undefined);
  assert.equal(sleeps.length, 2);
  for (const ms of sleeps) assert.ok(ms >= 20_000 && ms <= 40_000, `waited ${ms} ms`);
});

Deno.test("a call whose every listed node refuses connections backs off between rounds: no spin", async () => {
  const { client, signal, sleeps, urls, attempts } = clockedClient(() => {
    throw new TypeError("tcp connect error: Connection refused (os error 111)");
  }, {
    budgetMs: 10_000,
    attemptsCap: 1_000,
    baseUrl: ["http://node-a:8080", "http://node-b:8080", "http://node-c:8080"],
  });
  const error = await client.getQueue("orders", { signal }).catch((e) => e);
  assert.equal(error.code, "Aborted");
  // Each refusal moves on at once; once all three refused, the back-off (50 ms doubling to
  // 2 s) before the next round: a few dozen attempts in 10 s, where the spin made a thousand.
  assert.ok(attempts() <= 45, `${attempts()} attempts in 10 s`);
  assert.deepEqual(urls.slice(0, 6), [
    "node-a:8080",
    "node-b:8080",
    "node-c:8080",
    "node-a:8080",
    "node-b:8080",
    "node-c:8080",
  ]);
  // The first round: at once, at once, then a back-off; and so on.
  assert.deepEqual(sleeps.slice(0, 2), [0, 0]);
  assert.ok(sleeps[2] > 0 && sleeps[3] === 0 && sleeps[4] === 0 && sleeps[5] > 0, `${sleeps}`);
});
