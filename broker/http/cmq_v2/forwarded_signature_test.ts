/**
 * A signed CMQ request sent to a follower is served by the leader: CMQ's signature covers the
 * host the client used (the follower's), and the relay reaches the leader under another one.
 */
import assert from "node:assert/strict";
import { adminKey, setup } from "./_test_setup.ts";
import { CmqTestClient } from "./_cmq_test_client.ts";
import { forwardingHandler } from "../../cluster/forwarding.ts";

Deno.test("a signed CMQ request through a follower is verified against the host the client signed", async () => {
  const { door, clock } = setup({ keys: [adminKey] });
  const leader = forwardingHandler({
    view: { isLeader: () => true, leaderUrl: () => null },
    local: (request) => door.request(request),
    requestBytesMax: 1 << 20,
  });
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, leader);
  const follower = forwardingHandler({
    view: { isLeader: () => false, leaderUrl: () => `http://127.0.0.1:${server.addr.port}` },
    local: () => new Response("a follower serves no CMQ request itself", { status: 500 }),
    requestBytesMax: 1 << 20,
  });
  try {
    for (const httpMethod of ["POST", "GET"] as const) {
      const client = new CmqTestClient({
        handler: (request) => follower(request),
        host: "cmq.follower.example:9876",
        credentials: adminKey,
        httpMethod,
        now: () => clock.now(),
      });
      const reply = await client.call("CreateQueue", { queueName: `jobs${httpMethod}` });
      assert.equal(reply.body.code, 0, JSON.stringify(reply.body));
    }
  } finally {
    await server.shutdown();
  }
});
