/**
 * A custom `HttpTransport` that ignores its abort signal (its `request()` or its response's
 * `text()` never settles) must not hold a call past its timeout or the caller's abort: the
 * client stops waiting at once, and a late settlement of what it abandoned is ignored.
 */
import assert from "node:assert/strict";
import { CmqdClient, CmqdError, Consumer } from "./mod.ts";
import type { ConsumerClient } from "./consumer_acks.ts";
import { FakeQueue } from "./_fake_queue.ts";
import type { HttpRequest, HttpResponse, HttpTransport } from "./transport.ts";
import { type Deferred, deferred, waitFor } from "./_test_helpers.ts";

/** A transport deaf to its signal: each request's answer (and body) is settled by the test. */
function deafTransport(bodyHangs = false) {
  const requests: HttpRequest[] = [];
  const answers: Deferred<HttpResponse>[] = [];
  const bodies: Deferred<string>[] = [];
  const reads: string[] = [];
  const transport: HttpTransport = {
    request(request) {
      requests.push(request);
      const answer = deferred<HttpResponse>();
      answers.push(answer);
      if (bodyHangs) {
        const body = deferred<string>();
        bodies.push(body);
        answer.resolve({
          status: 200,
          header: () => null,
          text: () => {
            reads.push(request.url);
            return body.promise;
          },
        });
      }
      return answer.promise;
    },
  };
  return { transport, requests, answers, bodies, reads };
}

/**
 * `promise`'s outcome, or a failure when it has not settled after `guardMs` (only so that a
 * regression fails the test instead of hanging it; not a timing assertion).
 */
async function settled<T>(promise: Promise<T>, guardMs = 10_000): Promise<T> {
  let guard: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<never>((_, reject) => {
    guard = setTimeout(
      () => reject(new Error(`the call did not settle in ${guardMs} ms`)),
      guardMs,
    );
  });
  try {
    return await Promise.race([promise, hang]);
  } finally {
    clearTimeout(guard);
  }
}

/** `promise`'s error (see `settled`). */
function settledError(promise: Promise<unknown>): Promise<unknown> {
  return settled(promise.then(() => assert.fail("the call succeeded"), (error) => error));
}

function sdkOn(transport: HttpTransport, extra: object = {}): CmqdClient {
  return new CmqdClient({
    baseUrl: "http://node-a:8080",
    transport,
    timeoutMs: 20,
    retry: { attemptsMax: 1 },
    sleep: () => Promise.resolve(),
    ...extra,
  });
}

Deno.test("a transport whose request() never settles and ignores its signal times out", async () => {
  const deaf = deafTransport();
  const error = await settledError(sdkOn(deaf.transport).getQueue("q"));
  assert.ok(error instanceof CmqdError);
  assert.equal(error.code, "Timeout");
  assert.equal(error.retryable, true);
  assert.equal(deaf.requests.length, 1);
  assert.equal(deaf.requests[0].signal.aborted, true);
  // Late settlements of the abandoned request are ignored (no unhandled rejection).
  deaf.answers[0].reject(new Error("late failure"));
  await new Promise((resolve) => setTimeout(resolve, 0));
});

Deno.test("a response whose text() never settles and ignores the signal times out", async () => {
  const deaf = deafTransport(true);
  const error = await settledError(sdkOn(deaf.transport).getQueue("q"));
  assert.ok(error instanceof CmqdError);
  assert.equal(error.code, "Timeout");
  assert.match(error.message, /its body not within 20 ms/);
  deaf.bodies[0].reject(new Error("late failure"));
  await new Promise((resolve) => setTimeout(resolve, 0));
});

Deno.test("the caller's abort ends a call whose transport ignores its signal", async (t) => {
  for (const bodyHangs of [false, true]) {
    await t.step(bodyHangs ? "while reading the body" : "while waiting for the head", async () => {
      const deaf = deafTransport(bodyHangs);
      const sdk = sdkOn(deaf.transport, { timeoutMs: 60_000 });
      const controller = new AbortController();
      const pending = sdk.getQueue("q", { signal: controller.signal });
      const reached = bodyHangs ? deaf.reads : deaf.requests;
      await waitFor("the request to reach the transport", () => reached.length === 1);
      controller.abort();
      const error = await settledError(pending);
      assert.ok(error instanceof CmqdError);
      assert.equal(error.code, "Aborted");
      if (bodyHangs) deaf.bodies[0].resolve("{}");
      else deaf.answers[0].reject(new Error("late failure"));
      await new Promise((resolve) => setTimeout(resolve, 0));
    });
  }
});

Deno.test("after a deaf attempt times out, a repeatable call's retry is answered", async () => {
  let calls = 0;
  const transport: HttpTransport = {
    request() {
      calls++;
      if (calls === 1) return new Promise(() => {});
      return Promise.resolve({
        status: 200,
        header: () => null,
        text: () => Promise.resolve(JSON.stringify({ name: "q" })),
      });
    },
  };
  const sdk = sdkOn(transport, { retry: { attemptsMax: 2 } });
  assert.deepEqual(await settled(sdk.getQueue("q")), { name: "q" });
  assert.equal(calls, 2);
});

Deno.test("a deaf node past headTimeoutMs is left for the next listed node", async () => {
  const seen: string[] = [];
  const transport: HttpTransport = {
    request(request) {
      seen.push(request.url);
      if (request.url.startsWith("http://node-a:8080")) return new Promise(() => {});
      return Promise.resolve({
        status: 200,
        header: () => null,
        text: () => Promise.resolve(JSON.stringify({ name: "q" })),
      });
    },
  };
  const sdk = sdkOn(transport, {
    baseUrl: ["http://node-a:8080", "http://node-b:8080"],
    timeoutMs: 60_000,
    headTimeoutMs: 10,
    retry: { attemptsMax: 2 },
  });
  assert.deepEqual(await settled(sdk.getQueue("q")), { name: "q" });
  assert.deepEqual(seen, ["http://node-a:8080/v1/queues/q", "http://node-b:8080/v1/queues/q"]);
});

Deno.test("a Consumer's stop() ends when its delete goes to a transport deaf to its signal", async () => {
  const queue = new FakeQueue();
  queue.send("a");
  const deaf = deafTransport();
  const deletes = sdkOn(deaf.transport);
  let receives = 0;
  const client: ConsumerClient = {
    // The first receive gets the message; the next long-polls until stopped, so the delete
    // goes in an explicit call rather than in a receive.
    receiveMessages: (name, request, options) =>
      ++receives === 1
        ? queue.receiveMessages(name, request, options)
        : new Promise((_, reject) => {
          const signal = options?.signal;
          signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
        }),
    changeVisibility: queue.changeVisibility.bind(queue),
    deleteMessages: deletes.deleteMessages.bind(deletes),
  };
  const errors: unknown[] = [];
  let handled = 0;
  const consumer = new Consumer(client, "q", {
    waitSeconds: 20,
    handleMessage: () => {
      handled++;
      return Promise.resolve();
    },
    onError: (error) => errors.push(error),
  });
  consumer.start();
  await waitFor("the message handled", () => handled === 1);
  await settled(consumer.stop());
  assert.equal(deaf.requests.length, 1, "the delete reached the transport");
  assert.ok(errors.some((error) => error instanceof CmqdError && error.code === "Timeout"));
});

Deno.test("a receive whose waitSeconds is not a number still times out", async () => {
  // Was: the wait was added to the call's timeouts as it came, so NaN (or a string) made them
  // NaN, never armed: against a node that never answers, the call hung for ever.
  for (const waitSeconds of [NaN, "5" as unknown as number, -1]) {
    const deaf = deafTransport();
    const error = await settledError(sdkOn(deaf.transport).receiveMessages("q", { waitSeconds }));
    assert.ok(error instanceof CmqdError);
    assert.equal(error.code, "Timeout");
  }
});
