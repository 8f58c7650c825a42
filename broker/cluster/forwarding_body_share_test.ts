/**
 * A follower's forwards may reach the leader over one connection (HTTP/2 over TLS carries them
 * all), so the leader counts a forward's body against the share of its client's connection to
 * the follower, which the follower names and proves with the cluster key — not against the
 * follower's connection, whose one share (a quarter of the leader's budget) all of that
 * follower's clients would otherwise have to fit in. A claim without a proof that verifies is
 * not taken: the body counts against the connection it came on.
 */
import assert from "node:assert/strict";
import { BodyBudget } from "../http/mod.ts";
import { until } from "../http/_body_timers.ts";
import { door } from "../http/_access_fixtures.ts";
import { forwardingHandler } from "./forwarding.ts";
import { forwardedForHeader, forwardedProofHeader, ForwardProof } from "./forward_proof.ts";

const clusterKey = new Uint8Array(32).fill(7);
/** A send of 900 bytes, served by the leader's v1 direct path. */
const sendBody = `{"messages":[{"body":"${"x".repeat(900 - 26)}"}]}`;
const bodyBytes = sendBody.length;

/** `Deno.serve`'s connection info for a connection from `hostname:port`. */
function connection(hostname: string, port: number): Deno.ServeHandlerInfo {
  return { remoteAddr: { transport: "tcp", hostname, port }, completed: Promise.resolve() };
}

/** The follower's one connection to the leader, which carries every forward. */
const followerLink = connection("10.0.0.2", 7000);

/**
 * A leader whose budget holds 8,000 bytes (2,000 per connection), serving with its app (which
 * answers 503 a body its budget refuses), and a follower forwarding to it over `followerLink`;
 * the bodies reach the leader only once `release()` is called.
 */
async function cluster(options: { followerKey?: Uint8Array } = {}) {
  const leaderBodies = new BodyBudget({ bytesMax: 8_000 });
  const { app } = await door({ bodies: leaderBodies, requestBytesMax: 1_000 });
  const leader = forwardingHandler({
    view: { isLeader: () => true, leaderUrl: () => "http://leader:1" },
    local: (request, info) => app.fetch(request, info),
    requestBytesMax: 1_000,
    bodies: leaderBodies,
    proof: new ForwardProof(clusterKey, "n1"),
  });
  const gate = Promise.withResolvers<void>();
  const relayed: Headers[] = [];
  const toLeader = (url: string, init: RequestInit) => {
    const bytes = init.body as Uint8Array;
    const headers = new Headers(init.headers);
    relayed.push(headers);
    headers.set("content-length", `${bytes.byteLength}`);
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        await gate.promise;
        controller.enqueue(bytes);
        controller.close();
      },
    });
    return leader(new Request(url, { method: init.method, headers, body }), followerLink);
  };
  const follower = forwardingHandler({
    view: { isLeader: () => false, leaderUrl: () => "http://leader:1" },
    local: () => new Response("local"),
    requestBytesMax: 1_000,
    bodies: new BodyBudget(),
    proof: new ForwardProof(options.followerKey ?? clusterKey, "n2"),
    fetch: toLeader as typeof fetch,
  });
  const statuses: number[] = [];
  /** A send of `client` through the follower; its status is noted as it is answered. */
  const send = (client: Deno.ServeHandlerInfo | undefined, headers = {}) =>
    follower(
      new Request("http://follower:2/v1/queues/a/messages", {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: sendBody,
      }),
      client,
    ).then(async (response) => {
      statuses.push(response.status);
      return { status: response.status, text: await response.text() };
    });
  /** Waits until each of `count` forwards is being read by the leader or answered. */
  const settled = (count: number) =>
    until(
      () => leaderBodies.reservedBytes + statuses.length * bodyBytes === count * bodyBytes,
      `${count} forwards read or answered`,
    );
  return { leaderBodies, relayed, send, settled, statuses, release: () => gate.resolve() };
}

Deno.test("forwards of three clients over the follower's one connection each count against their client's share of the leader's budget", async () => {
  const { leaderBodies, relayed, send, settled, statuses, release } = await cluster();
  const answers = [1, 2, 3].map((port) => send(connection("10.0.1.1", 50_000 + port)));
  await settled(3);
  assert.deepEqual(statuses, [], "none refused: 2,700 bytes over the follower's 2,000 share");
  assert.equal(leaderBodies.reservedBytes, 3 * bodyBytes);
  assert.equal(leaderBodies.connectionCount, 3);
  assert.equal(relayed[0].get(forwardedForHeader), "10.0.1.1:50001");
  release();
  for (const answer of await Promise.all(answers)) assert.equal(answer.status, 200);
  assert.equal(leaderBodies.reservedBytes, 0);
  assert.equal(leaderBodies.connectionCount, 0);
});

Deno.test("one client's forwards still hold at most its own share of the leader's budget", async () => {
  const { send, settled, statuses, release } = await cluster();
  const client = connection("10.0.1.1", 50_001);
  const answers = [send(client), send(client), send(client)];
  await settled(3);
  assert.deepEqual(statuses, [503]);
  release();
  const texts = (await Promise.all(answers)).map((answer) => `${answer.status} ${answer.text}`);
  assert.equal(texts.filter((text) => text.startsWith("200")).length, 2);
  assert.match(
    texts.find((text) => text.startsWith("503"))!,
    /this connection is sending 1800 bytes/,
  );
});

Deno.test("a claim the leader can't verify (another cluster's key) counts against the connection it came on", async () => {
  const { leaderBodies, relayed, send, settled, statuses, release } = await cluster({
    followerKey: new Uint8Array(32).fill(8),
  });
  const answers = [1, 2, 3].map((port) => send(connection("10.0.1.1", 50_000 + port)));
  await settled(3);
  assert.deepEqual(statuses, [503], "the follower's connection holds its 2,000 share");
  assert.equal(leaderBodies.connectionCount, 1);
  assert.notEqual(relayed[0].get(forwardedProofHeader), null);
  release();
  await Promise.all(answers);
});

Deno.test("a client's own claim headers are not relayed; a follower without the client's connection claims none", async () => {
  const { relayed, send, release } = await cluster();
  release();
  const forged = { [forwardedForHeader]: "10.9.9.9:1", [forwardedProofHeader]: "Node=n2" };
  await send(undefined, forged);
  assert.equal(relayed[0].get(forwardedForHeader), null);
  assert.equal(relayed[0].get(forwardedProofHeader), null);
  await send(connection("10.0.1.1", 50_001), forged);
  assert.equal(relayed[1].get(forwardedForHeader), "10.0.1.1:50001");
});

Deno.test("a proof verifies only for its method, path, client and node, with the cluster key, within 300 s", () => {
  let now = 1_700_000_000_000;
  const follower = new ForwardProof(clusterKey, "n2", { now: () => now });
  const leader = new ForwardProof(clusterKey, "n1", { now: () => now });
  const claimed = (method: string, path: string, client = "10.0.1.1:50001") => {
    const headers = new Headers();
    follower.claim(headers, method, path, client);
    return headers;
  };
  const at = (path: string, headers: Headers, method = "POST") =>
    new Request(`http://leader:1${path}`, { method, headers });
  const headers = claimed("POST", "/v1/queues/a/messages?x=1");
  assert.equal(leader.verified(at("/v1/queues/a/messages?x=1", headers)), "n2 10.0.1.1:50001");
  assert.equal(leader.verified(at("/v1/queues/b/messages?x=1", headers)), null, "another path");
  assert.equal(leader.verified(at("/v1/queues/a/messages?x=1", headers, "PUT")), null);
  const otherClient = new Headers(headers);
  otherClient.set(forwardedForHeader, "10.0.1.1:50002");
  assert.equal(leader.verified(at("/v1/queues/a/messages?x=1", otherClient)), null);
  const otherNode = new Headers(headers);
  otherNode.set(forwardedProofHeader, headers.get(forwardedProofHeader)!.replace("n2", "n3"));
  assert.equal(leader.verified(at("/v1/queues/a/messages?x=1", otherNode)), null);
  const stranger = new ForwardProof(new Uint8Array(32), "n1", { now: () => now });
  assert.equal(stranger.verified(at("/v1/queues/a/messages?x=1", headers)), null);
  now += 301_000;
  assert.equal(leader.verified(at("/v1/queues/a/messages?x=1", headers)), null, "too old");
  assert.equal(leader.verified(at("/v1/queues/a", new Headers())), null, "no claim");
});
