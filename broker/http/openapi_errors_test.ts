/**
 * The answers the middleware gives in front of every route, provoked on every documented route,
 * must be listed by that route in the OpenAPI document: a declared `content-length` over the
 * limit (413, any method, any path), protected mode (403, any path), and on `/v1` an unknown
 * query parameter (400), missing credentials (401), a full replay cache (503), a body that stopped
 * arriving (408) and, with a body method, a body that is not JSON (415).
 */
import assert from "node:assert/strict";
import { NonceCache } from "../auth/mod.ts";
import { door, init, label, type RouteCase, routeCases, signedFor } from "./_access_fixtures.ts";
import { manualBudget, trickle, until } from "./_body_timers.ts";

/** The documented routes outside `/v1` (open: no credentials). */
const openCases: RouteCase[] = ["/healthz", "/readyz", "/metrics"].map((path) => ({
  method: "GET",
  path,
  permission: "",
}));

/** The document's template of a concrete path (`/v1/queues/orders` → `/v1/queues/{queue}`). */
function templateOf(paths: string[], path: string): string {
  const bare = path.split("?")[0];
  const template = paths.find((candidate) =>
    new RegExp(`^${candidate.replaceAll(/\{[^}]+\}/g, "[^/]+")}$`).test(bare)
  );
  assert.ok(template !== undefined, `no documented path matches ${bare}`);
  return template;
}

type Document = { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };

async function documentOf(): Promise<Document> {
  const { app } = await door();
  return await (await app.request("/openapi.json")).json();
}

/** Asserts that the route of `routeCase` answered `status` and that its document lists it. */
function listed(document: Document, routeCase: RouteCase, status: number, why: string) {
  const template = templateOf(Object.keys(document.paths), routeCase.path);
  const operation = document.paths[template][routeCase.method.toLowerCase()];
  assert.ok(
    String(status) in operation.responses,
    `${routeCase.method} ${template} answers ${status} (${why}) but does not list it`,
  );
}

async function expectStatus(response: Response, status: number, what: string): Promise<void> {
  await response.body?.cancel();
  assert.equal(response.status, status, what);
}

Deno.test("every route lists the 413 of a declared content-length over the limit", async () => {
  const document = await documentOf();
  const { app, calls } = await door({ requestBytesMax: 1024 });
  for (const routeCase of [...routeCases, ...openCases]) {
    const request = init(routeCase);
    const response = await app.request(routeCase.path, {
      ...request,
      headers: { ...request.headers as Record<string, string>, "content-length": "1025" },
    });
    await expectStatus(response, 413, label(routeCase));
    listed(document, routeCase, 413, "declared content-length over the limit");
  }
  assert.deepEqual(calls, []);
});

Deno.test("every route lists the 403 of protected mode", async () => {
  const document = await documentOf();
  // No connection info: not loopback, refused.
  const { app, calls } = await door({ loopbackOnly: true });
  for (const routeCase of [...routeCases, ...openCases]) {
    await expectStatus(await app.request(routeCase.path, init(routeCase)), 403, label(routeCase));
    listed(document, routeCase, 403, "protected mode");
  }
  assert.deepEqual(calls, []);
});

Deno.test("every v1 route lists the 400 of an unknown query parameter", async () => {
  const document = await documentOf();
  const { app, calls } = await door();
  for (const routeCase of routeCases) {
    const path = `${routeCase.path}${routeCase.path.includes("?") ? "&" : "?"}unknownParameter=1`;
    await expectStatus(await app.request(path, init(routeCase)), 400, label(routeCase));
    listed(document, routeCase, 400, "unknown query parameter");
  }
  assert.deepEqual(calls, []);
});

Deno.test("every v1 route lists the 401 of missing credentials and the 503 of a full replay cache", async () => {
  const document = await documentOf();
  const { app, calls } = await door({
    keys: { AKIDadmin: ["*"] },
    nonceCache: new NonceCache({ noncesMax: 1 }),
  });
  const first = routeCases[2];
  await expectStatus(
    await app.request(first.path, init(first, await signedFor(first, "AKIDadmin"))),
    200,
    "the signed request that fills the replay cache",
  );
  for (const routeCase of routeCases) {
    await expectStatus(await app.request(routeCase.path, init(routeCase)), 401, label(routeCase));
    listed(document, routeCase, 401, "no credentials");
    const signed = await signedFor(routeCase, "AKIDadmin");
    await expectStatus(
      await app.request(routeCase.path, init(routeCase, signed)),
      503,
      label(routeCase),
    );
    listed(document, routeCase, 503, "replay cache full");
  }
  assert.equal(calls.length, 1);
});

Deno.test("every v1 route of a body method lists the 415 of a body that is not JSON", async () => {
  const document = await documentOf();
  const { app, calls } = await door();
  const bodyMethods = new Set(["POST", "PUT", "PATCH"]);
  for (const routeCase of routeCases.filter((each) => bodyMethods.has(each.method))) {
    const response = await app.request(routeCase.path, {
      method: routeCase.method,
      body: "x",
      headers: { "content-type": "text/plain" },
    });
    await expectStatus(response, 415, label(routeCase));
    listed(document, routeCase, 415, "a body that is not JSON");
  }
  assert.deepEqual(calls, []);
});

Deno.test("every v1 route lists the 408 of a body that stopped arriving", async () => {
  const document = await documentOf();
  const { bodies, timers } = manualBudget();
  // The signed form's check reads the body of any method (fetch can't send one with GET).
  const { app, calls } = await door({ keys: { AKIDadmin: ["*"] }, bodies });
  for (const routeCase of routeCases) {
    listed(document, routeCase, 408, "a body that stopped arriving");
    if (routeCase.method === "GET") continue;
    const body = trickle();
    const request = init(routeCase, await signedFor(routeCase, "AKIDadmin"));
    const answer = app.request(routeCase.path, { ...request, body: body.stream });
    body.send(1);
    await until(() => bodies.readingCount === 1, label(routeCase));
    timers.tick(2);
    await expectStatus(await answer, 408, label(routeCase));
  }
  assert.deepEqual(calls, []);
});
