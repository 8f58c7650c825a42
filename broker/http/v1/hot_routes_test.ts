import assert from "node:assert/strict";
import fc from "fast-check";
import { createApp, Metrics } from "../mod.ts";
import { FakeStatus, recordingService } from "../testing/mod.ts";
import { badInputCases, requestOf } from "./_bad_input_cases.ts";
import { deleteBody, queueName, receiveBody, sendBody } from "./_hot_input_arbitraries.ts";

const answers = {
  sendMessages: { messages: [{ id: "m1", sequence: 1 }] },
  receiveMessages: {
    messages: [{
      id: "m1",
      sequence: 1,
      body: 'a "quoted" body\n',
      receiptHandle: "h1",
      enqueuedAt: 1,
      firstReceivedAt: 2,
      receiveCount: 1,
      visibleAt: 3,
    }],
  },
  deleteMessages: { deleted: 1, failures: [] },
};

/** Two doors over recording services, one with the fast path and one without. */
function doors() {
  const make = (hotRoutes: boolean) => {
    const { service, calls } = recordingService(answers);
    const app = createApp({ service, status: new FakeStatus(), metrics: new Metrics(), hotRoutes });
    return { app, calls };
  };
  return { hot: make(true), reference: make(false) };
}

interface Answer {
  status: number;
  headers: [string, string][];
  body: string;
}

async function answer(
  app: ReturnType<typeof createApp>,
  path: string,
  init: RequestInit,
): Promise<Answer> {
  const response = await app.request(path, init);
  return { status: response.status, headers: [...response.headers], body: await response.text() };
}

/** Sends the same request to both doors; asserts the same answer and the same service calls. */
async function sameAnswer(path: string, init: () => RequestInit): Promise<Answer> {
  const { hot, reference } = doors();
  const expected = await answer(reference.app, path, init());
  const actual = await answer(hot.app, path, init());
  assert.deepStrictEqual(actual, expected, `${path} ${String(init().body).slice(0, 200)}`);
  // The service saw the same calls with the same arguments (the signal aside).
  const withoutSignals = (calls: { method: string; args: unknown[] }[]) =>
    calls.map(({ method, args }) => ({ method, args: args.slice(0, 2) }));
  assert.deepStrictEqual(withoutSignals(hot.calls), withoutSignals(reference.calls));
  return actual;
}

const contentType = fc.oneof(
  { weight: 8, arbitrary: fc.constant("application/json") },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "application/json; charset=utf-8",
      "APPLICATION/JSON",
      "application/json ;x=y",
      "application/v1+json",
      "text/plain",
      "application/jsonx",
    ),
  },
);

function post(body: unknown, type: string | undefined) {
  return () => ({
    method: "POST",
    body: typeof body === "string" ? body : JSON.stringify(body),
    headers: {
      ...(type === undefined ? {} : { "content-type": type }),
      "x-request-id": "fixed-id",
    },
  });
}

const routes = [
  ["/messages", sendBody],
  ["/messages/receive", receiveBody],
  ["/messages/delete", deleteBody],
] as const;

for (const [suffix, body] of routes) {
  Deno.test(`POST /v1/queues/{queue}${suffix}: the fast path answers generated input exactly as the zod route does`, async () => {
    const statuses = new Set<number>();
    await fc.assert(
      fc.asyncProperty(queueName, body, contentType, async (queue, input, type) => {
        const path = `/v1/queues/${encodeURIComponent(queue)}${suffix}`;
        statuses.add((await sameAnswer(path, post(input, type))).status);
      }),
      { numRuns: 400 },
    );
    // Both sides of the rules were reached: answers and refusals.
    assert.ok(statuses.has(200) && statuses.has(400), [...statuses].join(","));
  });
}

Deno.test("the fast path answers the bad-input table exactly as the zod route does", async () => {
  const hotPaths = /^\/v1\/queues\/[^/]+\/messages(\/receive|\/delete)?$/;
  const cases = badInputCases().filter((badCase) =>
    badCase.method === "POST" && hotPaths.test(badCase.path)
  );
  assert.ok(cases.length > 40, `${cases.length} cases`);
  for (const badCase of cases) {
    const answered = await sameAnswer(badCase.path, () => {
      const init = requestOf(badCase);
      return {
        ...init,
        headers: { ...init.headers as Record<string, string>, "x-request-id": "id" },
      };
    });
    assert.equal(answered.status, badCase.status, badCase.name);
  }
});

Deno.test("malformed JSON, an empty body and odd framing take the zod route's answers", async () => {
  const path = "/v1/queues/q/messages";
  for (const text of ["{", "", "null", "[]", '{"messages":[{"body":"x"}]} trailing', "\uFEFF{}"]) {
    await sameAnswer(path, post(text, "application/json"));
    await sameAnswer(`${path}/receive`, post(text, "application/json"));
    await sameAnswer(`${path}/delete`, post(text, "application/json"));
  }
  await sameAnswer(path, post({ messages: [{ body: "x" }] }, undefined));
  await sameAnswer(
    "/v1/queues/q%2Dx/messages",
    post({ messages: [{ body: "x" }] }, "application/json"),
  );
});

Deno.test("a plainly valid request is served by the fast path with the route's answer", async () => {
  const path = "/v1/queues/orders/messages/receive";
  const answered = await sameAnswer(
    path,
    post({ maxMessages: 16, waitSeconds: 0 }, "application/json"),
  );
  assert.equal(answered.status, 200);
  assert.deepEqual(JSON.parse(answered.body), answers.receiveMessages);
});
