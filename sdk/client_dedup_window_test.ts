/**
 * A send made safe to repeat by its `dedupId`s is safe only inside the broker's 300 s dedup
 * window: under `retry.attemptsMax: Infinity` the client stops repeating it once that window may
 * have passed since the first attempt that may have stored it, so a retry never stores a second
 * copy. Attempts that did nothing (a plain `503 NoLeader`) start no window. On a fake clock that
 * only the client's waits move (no real waiting, no timing assertions).
 */
import assert from "node:assert/strict";
import { CmqdClient } from "./mod.ts";

function unavailable(code: "NoLeader" | "NotReady", outcomeUnknown: boolean): Response {
  return Response.json(
    {
      error: {
        code,
        message: outcomeUnknown ? "leader changed; outcome unknown" : "election",
        requestId: "r",
        ...(outcomeUnknown ? { outcomeUnknown: true } : {}),
      },
    },
    { status: 503, headers: { "retry-after": "1" } },
  );
}

/** A client answering `answer(attempt)` (1-based), on a fake clock its waits move; aborted at `budgetMs`. */
function clockedClient(answer: (attempt: number) => Response, budgetMs: number) {
  const controller = new AbortController();
  let attempts = 0;
  let nowMs = 0;
  const attemptsAt: number[] = [];
  const client = new CmqdClient({
    baseUrl: "http://node-a:8080",
    fetch: () => {
      attempts++;
      attemptsAt.push(nowMs);
      return Promise.resolve().then(() => answer(attempts));
    },
    retry: { attemptsMax: Infinity },
    sleep: (ms) => {
      nowMs += ms;
      if (nowMs >= budgetMs) controller.abort();
      return Promise.resolve();
    },
  });
  return { client, signal: controller.signal, attemptsAt, now: () => nowMs };
}

const messages = [{ body: "pay 100 to bob", dedupId: "transfer-17" }];

Deno.test("a deduplicated send whose outcome is unknown is not repeated past the dedup window", async () => {
  const { client, signal, attemptsAt } = clockedClient(
    () => unavailable("NotReady", true),
    3_600_000,
  );
  const error = await client.sendMessages("payments", messages, { signal }).catch((e) => e);
  // Not retried for the whole hour (the repeat after 300 s would store the message again): the
  // call fails with the broker's answer, which says the message may be stored.
  assert.equal(error.code, "NotReady");
  assert.equal(error.outcomeUnknown, true);
  assert.ok(attemptsAt.length > 1, "retried inside the window");
  const last = attemptsAt[attemptsAt.length - 1];
  assert.ok(last <= 240_000, `an attempt started ${last} ms after the first`);
});

Deno.test("the window counts from the first attempt that may have stored the send", async () => {
  // Ten minutes of clean refusals (nothing done: no window), then answers of unknown outcome.
  let unknownFrom: number | undefined;
  const { client, signal, attemptsAt, now } = clockedClient((attempt) => {
    if (now() < 600_000) return unavailable("NoLeader", false);
    unknownFrom ??= attempt;
    return unavailable("NotReady", true);
  }, 3_600_000);
  const error = await client.sendMessages("payments", messages, { signal }).catch((e) => e);
  assert.equal(error.code, "NotReady");
  const first = attemptsAt[unknownFrom! - 1];
  const last = attemptsAt[attemptsAt.length - 1];
  assert.ok(last > first, "retried after the first unknown outcome");
  assert.ok(last - first <= 240_000, `an attempt started ${last - first} ms after it`);
});

Deno.test("a read is repeated without such a bound", async () => {
  const { client, signal } = clockedClient(() => unavailable("NotReady", true), 900_000);
  const error = await client.getQueue("payments", { signal }).catch((e) => e);
  assert.equal(error.code, "Aborted");
});
