/**
 * A signed SQS request sent to a follower is served by the leader: SigV4 signs the `Host` the
 * client used (the follower's), and the follower's relay reaches the leader under another one.
 */
import assert from "node:assert/strict";
import { CreateQueueCommand, GetQueueUrlCommand, SQSClient } from "./_npm_test_deps.ts";
import { adminKey, startDoor } from "./_test_server.ts";
import { forwardingHandler } from "../../cluster/forwarding.ts";

Deno.test("a signed request through a follower is verified against the host the client signed", async () => {
  await using door = startDoor({ keys: [adminKey], asLeader: true });
  const follower = forwardingHandler({
    view: { isLeader: () => false, leaderUrl: () => door.endpoint },
    local: () => new Response("a follower serves no SQS request itself", { status: 500 }),
    requestBytesMax: 1 << 20,
  });
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, follower);
  const followerEndpoint = `http://127.0.0.1:${server.addr.port}`;
  const client = new SQSClient({
    endpoint: followerEndpoint,
    region: "eu-west-1",
    credentials: { accessKeyId: adminKey.secretId, secretAccessKey: adminKey.secretKey },
    maxAttempts: 1,
  });
  try {
    const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: "orders" }));
    // The queue's URL names the node the client asked (as a direct request to it would).
    assert.equal(QueueUrl, `${followerEndpoint}/000000000000/orders`);
    const found = await client.send(new GetQueueUrlCommand({ QueueName: "orders" }));
    assert.equal(found.QueueUrl, QueueUrl);
  } finally {
    client.destroy();
    await server.shutdown();
  }
});
