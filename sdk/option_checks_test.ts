/**
 * Options of the client, `Producer` and `Consumer` are checked when they are built: a value
 * outside its range, or not a number at all, throws a `RangeError` or `TypeError` naming the
 * option and what it may be, instead of working in some surprising way later.
 */
import assert from "node:assert/strict";
import { CmqdClient, Consumer, Producer } from "./mod.ts";
import { FakeQueue } from "./_fake_queue.ts";

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
  for (const bad of [0, 1.5, Number.NaN, Infinity, -2]) {
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
    [{ pendingSendsMax: Infinity }, RangeError, "pendingSendsMax", "≥ 1"],
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
