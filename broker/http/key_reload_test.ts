/**
 * A key taken away by a reload of the credentials file while the key's long poll waits: the
 * poll ends at once and answers 401 (key removed) or 403 (permission narrowed), never the
 * messages, on the direct path and on the hono route alike.
 */
import { strict as assert } from "node:assert";
import { FileKeyRing } from "../auth/mod.ts";
import { wallClockEngine } from "../cluster/testing/mod.ts";
import { AccessGuard, authChallenge } from "./access_guard.ts";
import { createApp } from "./app.ts";
import { Metrics } from "./metrics.ts";
import { FakeStatus } from "./testing/mod.ts";

const admin = { secretId: "AKIDadmin", secretKey: "admin-secret", allow: ["*"] };
const worker = {
  secretId: "AKIDworker",
  secretKey: "worker-secret",
  allow: ["queue:jobs:receive"],
};
type Key = typeof admin;

/** An app over a fresh engine whose keys come from a credentials file that first holds `keys`. */
async function appWithKeys(...keys: Key[]) {
  let text = "";
  const write = (...next: Key[]) => text = JSON.stringify({ keys: next });
  write(...keys);
  const keyRing = await FileKeyRing.load("credentials.json", () => Promise.resolve(text));
  const { broker } = wallClockEngine();
  const app = createApp({
    service: broker,
    status: new FakeStatus(),
    metrics: new Metrics(),
    access: new AccessGuard({ keyRing, loopbackOnly: false }),
  });
  return { app, broker, keyRing, write };
}

async function reloadableDoor() {
  const { app, broker, keyRing, write } = await appWithKeys(admin, worker);
  const call = (
    key: Key,
    method: string,
    path: string,
    body: unknown,
    contentType = "application/json",
  ) =>
    app.fetch(
      new Request(`http://cmqd${path}`, {
        method,
        headers: {
          authorization: `Bearer ${key.secretId}:${key.secretKey}`,
          "content-type": contentType,
        },
        body: JSON.stringify(body),
      }),
      { remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 1 } },
    );
  const reload = async (...keys: Key[]) => {
    write(...keys);
    await keyRing.reload();
  };
  /** Resolves once `count` receives are parked, letting the event loop run. */
  const parked = async (count: number) => {
    while (broker.parkedReceivers < count) await new Promise((resolve) => setTimeout(resolve, 1));
  };
  assert.equal((await call(admin, "PUT", "/v1/queues/jobs", {})).status, 201);
  return { broker, call, reload, parked };
}

const receive = "/v1/queues/jobs/messages/receive";

// The direct path takes plain `application/json`; a charset sends the request to hono's route.
const doors = [["direct", "application/json"], ["hono", "application/json; charset=utf-8"]];
for (const [door, contentType] of doors) {
  Deno.test(`${door}: a long poll whose key a reload removes or narrows is refused`, async () => {
    const { broker, call, reload, parked } = await reloadableDoor();
    try {
      const removed = call(worker, "POST", receive, { waitSeconds: 20 }, contentType);
      await parked(1);
      await reload(admin);
      const refusal = await removed;
      assert.equal(refusal.status, 401);
      assert.equal(refusal.headers.get("www-authenticate"), authChallenge);
      assert.match(
        (await refusal.json()).error.message,
        /key 'AKIDworker' was removed or its secret changed \(the credentials were reloaded/,
      );

      await reload(admin, worker);
      const narrowed = call(worker, "POST", receive, { waitSeconds: 20 }, contentType);
      await parked(1);
      await reload(admin, { ...worker, allow: ["queue:jobs:send"] });
      const denied = await narrowed;
      assert.equal(denied.status, 403);
      assert.match(
        (await denied.json()).error.message,
        /key 'AKIDworker' lacks the permission 'queue:jobs:receive' \(the credentials were/,
      );

      // A message sent right after the reload goes to no removed key: it stays receivable.
      await reload(admin, worker);
      const late = call(worker, "POST", receive, { waitSeconds: 20 }, contentType);
      await parked(1);
      await reload(admin);
      const sent = await call(admin, "POST", "/v1/queues/jobs/messages", {
        messages: [{ body: "secret" }],
      });
      assert.equal(sent.status, 200);
      await sent.body?.cancel();
      assert.equal((await late).status, 401);
      const taken = await call(admin, "POST", receive, { waitSeconds: 0 });
      assert.deepEqual(
        (await taken.json()).messages.map((message: { body: string }) => message.body),
        ["secret"],
      );
    } finally {
      broker.close();
    }
  });
}

Deno.test("a reload that leaves the key as it was lets its long poll answer normally", async () => {
  const { broker, call, reload, parked } = await reloadableDoor();
  try {
    const poll = call(worker, "POST", receive, { waitSeconds: 20 });
    await parked(1);
    await reload(worker, admin);
    const answer = await poll;
    assert.equal(answer.status, 200);
    assert.deepEqual(await answer.json(), { messages: [] });
  } finally {
    broker.close();
  }
});

/**
 * A request whose body is still arriving when a reload removes or narrows its key: a Bearer
 * header is verified before the body is read, so the permission must be checked against the keys
 * serving once the body is in, not the key found when the headers came.
 */
async function callWithHeldBody(
  app: { fetch: (request: Request, info?: unknown) => Response | Promise<Response> },
  key: Key,
  method: string,
  path: string,
  body: unknown,
  contentType: string,
) {
  let release!: () => void;
  let readStarted!: () => void;
  const reading = new Promise<void>((resolve) => readStarted = resolve);
  const released = new Promise<void>((resolve) => release = resolve);
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      readStarted();
      await released;
      controller.enqueue(new TextEncoder().encode(JSON.stringify(body)));
      controller.close();
    },
  }, { highWaterMark: 0 });
  const answer = app.fetch(
    new Request(`http://cmqd${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key.secretId}:${key.secretKey}`,
        "content-type": contentType,
      },
      body: stream,
    }),
    { remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 1 } },
  );
  await reading;
  return { answer: Promise.resolve(answer), release };
}

for (const [door, contentType] of doors) {
  Deno.test(`${door}: a key a reload removes or narrows while its body arrives is refused`, async () => {
    const sender = { ...worker, allow: ["queue:jobs:send", "queue:victim:manage"] };
    const { app, broker, keyRing, write } = await appWithKeys(admin, sender);
    const asAdmin = (method: string, path: string, body?: unknown) =>
      app.fetch(
        new Request(`http://cmqd${path}`, {
          method,
          headers: {
            authorization: `Bearer ${admin.secretId}:${admin.secretKey}`,
            "content-type": "application/json",
          },
          body: body === undefined ? undefined : JSON.stringify(body),
        }),
        { remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 1 } },
      );
    try {
      await broker.createQueue("jobs", {});
      const send = { messages: [{ body: "from a removed key" }] };
      const removed = await callWithHeldBody(
        app,
        sender,
        "POST",
        "/v1/queues/jobs/messages",
        send,
        contentType,
      );
      write(admin);
      await keyRing.reload();
      removed.release();
      const refusal = await removed.answer;
      assert.equal(refusal.status, 401);
      assert.match((await refusal.json()).error.message, /key 'AKIDworker' was removed/);
      assert.equal(refusal.headers.get("www-authenticate"), authChallenge);
      const taken = await asAdmin("POST", receive, { waitSeconds: 0 });
      assert.deepEqual((await taken.json()).messages, []);

      write(admin, sender);
      await keyRing.reload();
      const narrowed = await callWithHeldBody(
        app,
        sender,
        "PUT",
        "/v1/queues/victim",
        {},
        contentType,
      );
      write(admin, { ...sender, allow: ["queue:jobs:send"] });
      await keyRing.reload();
      narrowed.release();
      const denied = await narrowed.answer;
      assert.equal(denied.status, 403);
      assert.match(
        (await denied.json()).error.message,
        /lacks the permission 'queue:victim:manage'/,
      );
      const victim = await asAdmin("GET", "/v1/queues/victim");
      assert.equal(victim.status, 404);
      await victim.body?.cancel();
    } finally {
      broker.close();
    }
  });
}
