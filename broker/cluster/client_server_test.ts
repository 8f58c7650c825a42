import assert from "node:assert/strict";
import { SimFileSystem } from "../../storage/mod.ts";
import { serveClients, startingAnswer } from "./client_server.ts";
import { startOneNode } from "./testing/mod.ts";

// A graceful stop drains the client port, then aborts it (main.ts). A request the handler took
// on (a write it proposed) must get its answer before the abort cuts the connection: the client
// can't tell a write cut after it was accepted from one never made.
Deno.test("a drain under a burst of keep-alive requests leaves no accepted request unanswered", async () => {
  const controller = new AbortController();
  const accepted = new Set<string>();
  const server = serveClients({
    hostname: "127.0.0.1",
    port: 0,
    tls: null,
    signal: controller.signal,
    report: () => {},
    handler: async (request) => {
      const id = new URL(request.url).searchParams.get("id")!;
      accepted.add(id);
      await new Promise((resolve) => setTimeout(resolve, 1));
      return new Response(id);
    },
  });
  const answered = new Set<string>();
  let stopping = false;
  const client = async (worker: number) => {
    for (let at = 0; !stopping; at++) {
      try {
        const response = await fetch(`http://127.0.0.1:${server.addr.port}/?id=${worker}-${at}`);
        answered.add(await response.text());
      } catch {
        return; // the port closed: nothing more is sent
      }
    }
  };
  const clients = Array.from({ length: 32 }, (_, worker) => client(worker));
  while (accepted.size < 2_000) await new Promise((resolve) => setTimeout(resolve, 10));
  // What main.ts's stop does: drain (bounded), then abort what is still open.
  await server.drain(60_000);
  controller.abort();
  await server.finished;
  stopping = true;
  await Promise.all(clients);
  const unanswered = [...accepted].filter((id) => !answered.has(id));
  assert.deepEqual(unanswered, [], `${unanswered.length} of ${accepted.size} accepted requests`);
});

Deno.test("while the port drains, the request in flight is answered and a new one refused 503 NotReady", async () => {
  const controller = new AbortController();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let calls = 0;
  let started!: () => void;
  const inHandler = new Promise<void>((resolve) => (started = resolve));
  const server = serveClients({
    hostname: "127.0.0.1",
    port: 0,
    tls: null,
    signal: controller.signal,
    report: () => {},
    handler: async () => {
      if (++calls > 1) return new Response("served while draining");
      started();
      await gate;
      return new Response("done");
    },
  });
  const url = `http://127.0.0.1:${server.addr.port}/`;
  const open = fetch(url).then((response) => response.text());
  await inHandler;
  let drained = false;
  const draining = server.drain(60_000).then(() => (drained = true));
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(drained, false, "the drain waits for the request in flight");
  // A request that comes while the port drains is refused, retryable, and never handled.
  const late = await fetch(url);
  assert.equal(late.status, 503);
  assert.equal(late.headers.get("retry-after"), "1");
  const { error } = await late.json();
  assert.equal(error.code, "NotReady");
  // Every answer names its request, as the API's do.
  assert.match(error.requestId, /^[0-9a-f-]{36}$/);
  assert.equal(late.headers.get("x-request-id"), error.requestId);
  assert.equal(calls, 1);
  release();
  assert.equal(await open, "done");
  await draining;
  controller.abort();
  await server.finished;
});

// A liveness probe by HEAD (load balancers, `curl -I`) that got 503 while the node is starting
// (a long recovery or join) would restart it, and the start would begin again.
Deno.test("before the node serves, /healthz answers 200 starting to GET and HEAD alike; anything else 503", async () => {
  for (const method of ["GET", "HEAD"]) {
    const response = startingAnswer(new Request("http://node/healthz", { method }));
    assert.equal(response.status, 200, method);
    assert.deepEqual(await response.json(), { status: "starting" });
  }
  for (
    const [method, path] of [["POST", "/healthz"], ["GET", "/readyz"], ["HEAD", "/metrics"]]
  ) {
    const response = startingAnswer(new Request(`http://node${path}`, { method }));
    assert.equal(response.status, 503, `${method} ${path}`);
    assert.equal(response.headers.get("retry-after"), "1");
    assert.equal((await response.json()).error.code, "NotReady");
  }
});

// The port answers before the app (and so before any route) while the node starts and while it
// drains: the document must list that 503 on every route a client can be answered it on.
Deno.test("every documented route lists the 503 NotReady the client port answers before the node serves", async () => {
  const node = await startOneNode(new SimFileSystem());
  try {
    const document = await (await node.app.request("/openapi.json")).json() as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    };
    let checked = 0;
    for (const [template, operations] of Object.entries(document.paths)) {
      const path = template.replaceAll(/\{[^}]+\}/g, "x");
      for (const [method, operation] of Object.entries(operations)) {
        const answer = startingAnswer(
          new Request(`http://node${path}`, { method: method.toUpperCase() }),
        );
        await answer.body?.cancel();
        if (answer.status !== 503) continue;
        checked++;
        assert.ok(
          "503" in operation.responses,
          `${method.toUpperCase()} ${template} is answered 503 while the node starts but does ` +
            "not list it",
        );
      }
    }
    assert.ok(checked > 10, `only ${checked} routes checked`);
  } finally {
    await node.close();
  }
});
