/**
 * Options of the client, `Producer` and `Consumer` are checked when they are built: a value
 * outside its range, or not a number at all, throws a `RangeError` or `TypeError` naming the
 * option and what it may be, instead of working in some surprising way later.
 */
import assert from "node:assert/strict";
import { CmqdClient, Consumer, Producer } from "./mod.ts";
import { FakeQueue } from "./_fake_queue.ts";
import { deferred } from "./_test_helpers.ts";
import type { SendMessagesResponse } from "./protocol.ts";
import { backoffMs } from "./retry.ts";

const baseUrl = "http://node-a:8080";

/** Asserts `build` throws `kind` with a message holding every one of `parts`. */
function refused(
  build: () => unknown,
  kind: typeof TypeError | typeof RangeError,
  ...parts: string[]
) {
  let thrown: unknown;
  try {
    build();
  } catch (error) {
    thrown = error;
  }
  assert.ok(thrown instanceof kind, `expected a ${kind.name}, got ${thrown}`);
  for (const part of parts) {
    assert.ok(
      (thrown as Error).message.includes(part),
      `'${(thrown as Error).message}' lacks '${part}'`,
    );
  }
}

Deno.test("client timeouts: NaN, zero, negative or not a number are refused; Infinity means none", () => {
  // A NaN timeoutMs was never armed: every call ran without any timeout.
  for (const name of ["timeoutMs", "headTimeoutMs"] as const) {
    for (const bad of [Number.NaN, 0, -1, -Infinity]) {
      refused(() => new CmqdClient({ baseUrl, [name]: bad }), RangeError, name, "> 0", "Infinity");
    }
    refused(
      () => new CmqdClient({ baseUrl, [name]: "30000" as unknown as number }),
      TypeError,
      name,
    );
    new CmqdClient({ baseUrl, [name]: Infinity }).close();
    new CmqdClient({ baseUrl, [name]: 1500.5 }).close();
  }
});

Deno.test("client retry bounds: attempts a whole number ≥ 1, back-offs finite with min ≤ max", () => {
  for (const bad of [0, 1.5, Number.NaN, -Infinity, -2]) {
    refused(
      () => new CmqdClient({ baseUrl, retry: { attemptsMax: bad } }),
      RangeError,
      "retry.attemptsMax",
    );
  }
  refused(
    () => new CmqdClient({ baseUrl, retry: { attemptsMax: "3" as unknown as number } }),
    TypeError,
    "retry.attemptsMax",
  );
  for (const bad of [Number.NaN, -1, Infinity]) {
    refused(
      () => new CmqdClient({ baseUrl, retry: { backoffMsMin: bad } }),
      RangeError,
      "retry.backoffMsMin",
    );
    refused(
      () => new CmqdClient({ baseUrl, retry: { backoffMsMax: bad } }),
      RangeError,
      "retry.backoffMsMax",
    );
  }
  refused(
    () => new CmqdClient({ baseUrl, retry: { backoffMsMin: 500, backoffMsMax: 100 } }),
    RangeError,
    "retry.backoffMsMax",
    "retry.backoffMsMin",
  );
  refused(
    () => new CmqdClient({ baseUrl, followLeader: "no" as unknown as boolean }),
    TypeError,
    "followLeader",
  );
  new CmqdClient({ baseUrl, retry: { attemptsMax: 1, backoffMsMin: 0, backoffMsMax: 0 } }).close();
  // One bound alone may cross the other's default (50 ms to 2 s), as it always could.
  new CmqdClient({ baseUrl, retry: { backoffMsMax: 10 } }).close();
  new CmqdClient({ baseUrl, retry: { backoffMsMin: 5_000 } }).close();
});

/** A check of a rejection: a RangeError naming `name`. */
function rangeNaming(name: string) {
  return (error: Error) => error instanceof RangeError && error.message.startsWith(name);
}

Deno.test("a call's own timeouts are checked too: the call fails at once, nothing is sent", async () => {
  let requests = 0;
  const client = new CmqdClient({
    baseUrl,
    fetch: () => {
      requests++;
      return Promise.resolve(new Response("{}"));
    },
  });
  for (const bad of [Number.NaN, -5, 0]) {
    await assert.rejects(client.getQueue("q", { timeoutMs: bad }), rangeNaming("timeoutMs"));
    await assert.rejects(
      client.getQueue("q", { headTimeoutMs: bad }),
      rangeNaming("headTimeoutMs"),
    );
    await assert.rejects(
      client.receiveMessages("q", {}, { timeoutMs: bad }),
      rangeNaming("timeoutMs"),
    );
  }
  assert.equal(requests, 0);
  client.close();
});

Deno.test("Producer options: a number of the wrong kind or range, or a flag that is no boolean, is refused", () => {
  const queue = { sendMessages: () => Promise.reject(new Error("not sent")) };
  const cases: [Record<string, unknown>, typeof TypeError | typeof RangeError, string, string][] = [
    [{ batchSize: "16" }, TypeError, "batchSize", "1 to 256"],
    [{ batchSize: 0 }, RangeError, "batchSize", "1 to 256"],
    [{ batchBytesMax: Number.NaN }, RangeError, "batchBytesMax", "≥ 1"],
    [{ lingerMs: -1 }, RangeError, "lingerMs", "0 to 60000"],
    [{ lingerMs: Number.NaN }, RangeError, "lingerMs", "0 to 60000"],
    [{ pendingSendsMax: 0.5 }, RangeError, "pendingSendsMax", "≥ 1"],
    [{ inflightBatchesMax: 2.5 }, RangeError, "inflightBatchesMax", "1 to 1024"],
    [{ autoDedupId: "yes" }, TypeError, "autoDedupId", "boolean"],
    [{ fifo: 1 }, TypeError, "fifo", "boolean"],
  ];
  for (const [options, kind, name, range] of cases) {
    refused(() => new Producer(queue, "q", options), kind, name, range);
  }
  new Producer(queue, "q", { batchBytesMax: 8 * 1024 * 1024, lingerMs: 0, fifo: true });
});

Deno.test("Consumer options: counts, seconds, the delete linger, the back-off and callbacks are checked", () => {
  const queue = new FakeQueue();
  const cases: [Record<string, unknown>, typeof TypeError | typeof RangeError, string, string][] = [
    [{ concurrency: "8" }, TypeError, "concurrency", "1 to 65536"],
    [{ concurrency: Number.NaN }, RangeError, "concurrency", "1 to 65536"],
    [{ batchSize: 300 }, RangeError, "batchSize", "1 to 256"],
    [{ receivesInFlight: 0 }, RangeError, "receivesInFlight", "1 to 64"],
    [{ visibilityTimeoutSeconds: Infinity }, RangeError, "visibilityTimeoutSeconds", "1 to 43200"],
    [{ waitSeconds: -1 }, RangeError, "waitSeconds", "0 to 30"],
    [{ deleteLingerMs: Number.NaN }, RangeError, "deleteLingerMs", "0 to 60000"],
    [{ deleteLingerMs: -1 }, RangeError, "deleteLingerMs", "0 to 60000"],
    [{ deleteLingerMs: Infinity }, RangeError, "deleteLingerMs", "0 to 60000"],
    [
      { receiveBackoff: { backoffMsMin: Number.NaN } },
      RangeError,
      "receiveBackoff.backoffMsMin",
      "> 0",
    ],
    [{ receiveBackoff: { backoffMsMin: 0 } }, RangeError, "receiveBackoff.backoffMsMin", "> 0"],
    [
      { receiveBackoff: { backoffMsMax: Infinity } },
      RangeError,
      "receiveBackoff.backoffMsMax",
      "finite",
    ],
    [
      { receiveBackoff: { backoffMsMin: 200, backoffMsMax: 100 } },
      RangeError,
      "receiveBackoff.backoffMsMax",
      "≥",
    ],
    [{ retryDelaySeconds: 5 }, TypeError, "retryDelaySeconds", "function"],
    [{ onError: "log" }, TypeError, "onError", "function"],
    [{ handleMessage: {} }, TypeError, "handleMessage", "function"],
  ];
  for (const [options, kind, name, range] of cases) {
    refused(() => new Consumer(queue, "q", options), kind, name, range);
  }
  new Consumer(queue, "q", {
    deleteLingerMs: 0,
    receiveBackoff: { backoffMsMin: 1, backoffMsMax: 1 },
  });
});

Deno.test("Infinity is no bound where one makes sense: pendingSendsMax, batchBytesMax, retry.attemptsMax", async () => {
  // Taken before the options were checked: a user's `pendingSendsMax: Infinity` (no
  // back-pressure) must still build and work.
  const answers: (() => void)[] = [];
  let sequence = 0;
  const queue = {
    sendMessages: (_queue: string, entries: { body: string }[]) => {
      const answer = deferred<SendMessagesResponse>();
      answers.push(() =>
        answer.resolve({ messages: entries.map(() => ({ id: `m${++sequence}`, sequence })) })
      );
      return answer.promise;
    },
  };
  const producer = new Producer(queue, "q", {
    pendingSendsMax: Infinity,
    batchBytesMax: Infinity,
    batchSize: 256,
  });
  const sends = Array.from({ length: 3000 }, (_, index) => producer.send(`m${index}`));
  // None waits for room: every send is pending at once (the default bound is 1024).
  assert.equal(producer.stats.pendingSends, 3000);
  let settled = false;
  const all = Promise.all(sends).then(() => (settled = true));
  while (!settled) {
    answers.splice(0).forEach((answer) => answer());
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await all;
  assert.equal(producer.stats.sent, 3000);
  await producer.close();

  // Retries without a count bound: a node that refuses the connection ten times is tried an
  // eleventh time, each back-off finite.
  let attempts = 0;
  const sleeps: number[] = [];
  const client = new CmqdClient({
    baseUrl,
    retry: { attemptsMax: Infinity, backoffMsMin: 0, backoffMsMax: 10 },
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
    fetch: () => {
      if (++attempts <= 10) return Promise.reject(new TypeError("connection refused"));
      return Promise.resolve(Response.json({ purged: 0 }));
    },
  });
  assert.deepEqual(await client.getQueue("q"), { purged: 0 });
  assert.equal(attempts, 11);
  assert.ok(sleeps.every((ms) => Number.isFinite(ms) && ms >= 0 && ms <= 10), `${sleeps}`);
  client.close();
});

Deno.test("a back-off after very many attempts stays within its bounds: never NaN", () => {
  // With attemptsMax Infinity a call may count past 1024 attempts, where 2 ** attempt is Infinity
  // and 0 * Infinity is NaN (a timer of NaN fires at once, whatever the bounds said).
  assert.equal(backoffMs(1_100, { backoffMsMin: 0, backoffMsMax: 0 }), 0);
  assert.equal(backoffMs(1_100, { backoffMsMin: 0, backoffMsMax: 100 }, () => 1), 0);
  assert.equal(backoffMs(1_100, { backoffMsMin: 50, backoffMsMax: 2_000 }, () => 1), 2_000);
});

Deno.test("Infinity where it means nothing is refused with what to give instead", () => {
  const queue = { sendMessages: () => Promise.reject(new Error("not sent")) };
  const producerCases: [string, string][] = [
    ["batchSize", "256"],
    ["lingerMs", "flush()"],
    ["inflightBatchesMax", "1024"],
  ];
  for (const [name, instead] of producerCases) {
    refused(
      () => new Producer(queue, "q", { [name]: Infinity }),
      RangeError,
      name,
      "got Infinity: ",
      instead,
    );
  }
  const consumerCases: [Record<string, unknown>, string, string][] = [
    [{ concurrency: Infinity }, "concurrency", "65536"],
    [{ batchSize: Infinity }, "batchSize", "256"],
    [{ receivesInFlight: Infinity }, "receivesInFlight", "64"],
    [{ visibilityTimeoutSeconds: Infinity }, "visibilityTimeoutSeconds", "renew"],
    [{ waitSeconds: Infinity }, "waitSeconds", "30"],
    [{ deleteLingerMs: Infinity }, "deleteLingerMs", "60000"],
    [{ receiveBackoff: { backoffMsMax: Infinity } }, "receiveBackoff.backoffMsMax", "longest"],
    [{ receiveBackoff: { backoffMsMin: Infinity } }, "receiveBackoff.backoffMsMin", "first"],
  ];
  for (const [options, name, instead] of consumerCases) {
    refused(
      () => new Consumer(new FakeQueue(), "q", options),
      RangeError,
      name,
      "got Infinity: ",
      instead,
    );
  }
  refused(
    () => new CmqdClient({ baseUrl, retry: { backoffMsMax: Infinity } }),
    RangeError,
    "retry.backoffMsMax",
    "got Infinity: ",
    "longest",
  );
});
