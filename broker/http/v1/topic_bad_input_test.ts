/**
 * Bad input on every topic endpoint, against the real engine: the exact status, code and field,
 * nothing proposed, nothing changed.
 */
import assert from "node:assert/strict";
import { memoryEngine } from "../../cluster/testing/mod.ts";
import { createApp, Metrics } from "../mod.ts";
import { FakeStatus, jsonRequest } from "../testing/mod.ts";
import { requestOf } from "./_bad_input_cases.ts";
import { topicBadInputCases, topicFixture } from "./_topic_bad_input_cases.ts";

async function fixture() {
  const { replica, broker, topics } = memoryEngine({ randomSalt: () => 7 });
  const app = createApp({
    service: broker,
    topics,
    status: new FakeStatus(),
    metrics: new Metrics(),
  });
  const ok = async (method: string, path: string, body: unknown) => {
    const response = await app.request(path, jsonRequest(method, body));
    assert.ok(response.status < 300, `${method} ${path}: ${await response.text()}`);
  };
  await ok("PUT", `/v1/queues/${topicFixture.queue}`, {});
  await ok("PUT", `/v1/topics/${topicFixture.tagTopic}`, {});
  await ok("PUT", `/v1/topics/${topicFixture.keyTopic}`, { filterType: "routingKey" });
  await ok(
    "PUT",
    `/v1/topics/${topicFixture.tagTopic}/subscriptions/${topicFixture.subscription}`,
    { endpoint: { queue: topicFixture.queue }, filterTags: ["paid"] },
  );
  return { app, replica };
}

Deno.test("every bad input on a topic endpoint gets its exact answer and changes nothing", async (t) => {
  const { app, replica } = await fixture();
  const cases = topicBadInputCases();
  assert.ok(cases.length > 150, `${cases.length} cases`);
  const lastIndex = replica.lastIndex;
  const image = replica.machine.snapshot();
  for (const badCase of cases) {
    await t.step(badCase.name, async () => {
      const response = await app.request(badCase.path, requestOf(badCase));
      const body = await response.json();
      assert.equal(response.status, badCase.status, JSON.stringify(body));
      assert.equal(body.error.code, badCase.code, JSON.stringify(body));
      assert.equal(body.error.field, badCase.field, JSON.stringify(body));
      if (badCase.field !== undefined) {
        assert.ok(body.error.message.startsWith(`${badCase.field}: `), body.error.message);
      }
      if (badCase.message !== undefined) {
        assert.ok(body.error.message.includes(badCase.message), body.error.message);
      }
      assert.equal(replica.lastIndex, lastIndex, "nothing was proposed");
    });
  }
  assert.deepEqual(replica.machine.snapshot(), image, "nothing changed");
});
