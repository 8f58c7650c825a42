import assert from "node:assert/strict";
import { request, withServer } from "./_http1_fixtures.ts";

Deno.test("the signal aborts a request the server never answers, and one aborted before it starts", async () => {
  await withServer(() => null, async (server, transport) => {
    const controller = new AbortController();
    const pending = transport.request(request(server.url, { signal: controller.signal }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    controller.abort();
    await assert.rejects(pending, (error: Error) => error.name === "AbortError");
    const signal = AbortSignal.abort(new Error("gone"));
    await assert.rejects(() => transport.request(request(server.url, { signal })), /gone/);
    assert.equal(server.requests.length, 1);
  });
});

Deno.test("a signal aborted just after the connection is made still ends the request", async () => {
  // Between the connect (whose own abort listener is gone by then) and the exchange (which adds
  // one) lie a few microtasks: an abort landing there must still end a request the server never
  // answers. Every gap of up to 12 microtasks after the connection is tried.
  let controller = new AbortController();
  let hops = 0;
  const connectTcp = async (hostname: string, port: number) => {
    const conn = await Deno.connect({ hostname, port });
    let chain = Promise.resolve();
    for (let hop = 0; hop < hops; hop++) chain = chain.then(() => {});
    const aborting = controller;
    void chain.then(() => aborting.abort());
    return conn;
  };
  await withServer(() => null, async (server, transport) => {
    for (hops = 0; hops <= 12; hops++) {
      controller = new AbortController();
      const outcome = transport.request(request(server.url, { signal: controller.signal })).then(
        () => "answered",
        (error) => (error as Error).name,
      );
      let timer: ReturnType<typeof setTimeout> | undefined;
      const hung = new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve("still waiting after 10 s"), 10_000);
      });
      const result = await Promise.race([outcome, hung]);
      clearTimeout(timer);
      assert.equal(result, "AbortError", `an abort ${hops} microtasks after the connect`);
    }
  }, { transport: { connectTcp } });
});
