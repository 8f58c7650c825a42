/**
 * The door clients of the load harness speak each door's wire format: bodies with the characters
 * a form or JSON encoder must escape come back unchanged through a real app.
 */
import assert from "node:assert/strict";
import { createApp, FakeStatus, memoryEngine, Metrics } from "../broker/testing.ts";
import { CmqBenchClient, SqsBenchClient } from "./door_clients.ts";

const bodies = [
  "plain",
  "a&b=c+d%20e f",
  "!'()*~-_.",
  'línea\nnueva\t"quoted" \\ ✓ 😀',
  "x".repeat(3000),
];

for (const [name, make] of [["cmq", CmqBenchClient], ["sqs", SqsBenchClient]] as const) {
  Deno.test(`the ${name} bench client sends and receives bodies unchanged`, async () => {
    const { broker } = memoryEngine();
    const app = createApp({ service: broker, status: new FakeStatus(), metrics: new Metrics() });
    const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, app.fetch);
    try {
      for (const transport of ["fetch", "http1"] as const) {
        const client = new make(`http://127.0.0.1:${server.addr.port}`, transport);
        const queue = `q-${transport}`;
        await client.createQueue(queue, { visibilityTimeoutSeconds: 60 });
        await client.sendMessages(queue, bodies.map((body) => ({ body })));
        const received: string[] = [];
        while (received.length < bodies.length) {
          const { messages } = await client.receiveMessages(queue, { maxMessages: 10 });
          assert.ok(messages.length > 0, "messages were sent");
          received.push(...messages.map((message) => message.body));
        }
        assert.deepEqual(received.toSorted(), bodies.toSorted());
        client.close();
      }
    } finally {
      await server.shutdown();
    }
  });
}
