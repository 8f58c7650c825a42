/**
 * The SDK under Node: `deno bundle` turns `sdk/mod.ts` into one ESM file (as the npm build
 * will), and a Node script drives a real broker through it with `globalThis.fetch` broken — so
 * it passes only if the client picked its `node:http` transport by itself; a second script sends a
 * body over the broker's bound (a real broker, a raw server answering early). Skipped where no
 * `node` is installed.
 */
import assert from "node:assert/strict";
import { hasOpenssl, makeCertificates } from "../../broker/testing.ts";
import { startTestBroker } from "./_broker.ts";

const nodeAvailable = await new Deno.Command("node", { args: ["--version"], stdout: "null" })
  .output().then((output) => output.success, () => false);

/** Bundles `entry` (a module of the repository) into `<directory>/<out>`, as the npm build does. */
async function bundle(directory: string, entry: string, out: string): Promise<void> {
  const bundled = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--platform=browser", "--format=esm", "-o", `${directory}/${out}`, entry],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(bundled.success, new TextDecoder().decode(bundled.stderr));
}

/** Bundles `sdk/mod.ts` into `<directory>/sdk.mjs`, as the npm build will. */
function bundleSdk(directory: string): Promise<void> {
  return bundle(directory, "sdk/mod.ts", "sdk.mjs");
}

const smokeScript = `
import { CmqdClient, Consumer, Producer } from "./sdk.mjs";
globalThis.fetch = () => { throw new Error("fetch must not be used in Node"); };
const client = new CmqdClient({ baseUrl: process.argv[2] });
await client.createQueue("node-smoke");
const producer = new Producer(client, "node-smoke", { autoDedupId: true });
await Promise.all(Array.from({ length: 50 }, (_, index) => producer.send("n" + index)));
await producer.close();
const seen = new Set();
const consumer = new Consumer(client, "node-smoke", {
  concurrency: 4, waitSeconds: 1, handleMessage: (message) => { seen.add(message.body); },
});
consumer.start();
const giveUpAt = Date.now() + 20000;
while (seen.size < 50 && Date.now() < giveUpAt) await new Promise((r) => setTimeout(r, 5));
await consumer.stop();
const queue = await client.getQueue("node-smoke");
client.close();
console.log(JSON.stringify({ handled: seen.size, left: queue.activeMessages + queue.inflightMessages }));
`;

Deno.test({
  name: "the bundled SDK runs in Node on node:http: produce and consume 50 messages",
  ignore: !nodeAvailable,
  async fn() {
    const directory = await Deno.makeTempDir({ prefix: "cmqd-node-smoke-" });
    const broker = await startTestBroker();
    try {
      await bundleSdk(directory);
      await Deno.writeTextFile(`${directory}/smoke.mjs`, smokeScript);
      const run = await new Deno.Command("node", {
        args: ["smoke.mjs", broker.url],
        cwd: directory,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(run.stderr);
      assert.ok(run.success, stderr);
      assert.deepEqual(JSON.parse(new TextDecoder().decode(run.stdout)), { handled: 50, left: 0 });
    } finally {
      await broker.stop();
      await Deno.remove(directory, { recursive: true });
    }
  },
});

/**
 * A body over the broker's bound (4 MiB + 256 KiB) from Node: a real broker's 413 and a raw
 * server's (answered after the head, then nothing read, the connection kept open). The caller gets
 * the typed error after one request; the request whose answer came first is not written on.
 */
const largeRequestScript = `
import net from "node:net";
import { CmqdClient, defaultTransport } from "./sdk.mjs";
const sent = [];
const inner = defaultTransport();
const transport = { request: (request) => (sent.push(request.method), inner.request(request)) };
const outcome = async (client, queue, body, dedupId) => {
  sent.length = 0;
  try {
    await client.sendMessages(queue, [{ body, dedupId }]);
    return { sent: "ok" };
  } catch (error) {
    return { status: error.status, code: error.code, requests: sent.length };
  }
};
const result = {};
const broker = new CmqdClient({ baseUrl: process.argv[2], transport, timeoutMs: 60000 });
await broker.createQueue("big");
const fiveMiB = "x".repeat(5 * 1024 * 1024);
result.broker = await outcome(broker, "big", fiveMiB);
result.brokerDedup = await outcome(broker, "big", fiveMiB, "d1");
const queue = await broker.getQueue("big");
result.enqueued = queue.activeMessages + queue.inflightMessages + queue.delayedMessages;

const connections = [];
const server = net.createServer((socket) => {
  const connection = { socket, declared: Infinity, read: 0 };
  connections.push(connection);
  let head = "";
  const onHead = (chunk) => {
    head += chunk.toString("latin1");
    const end = head.indexOf("\\r\\n\\r\\n");
    if (end < 0) return;
    socket.off("data", onHead);
    socket.pause();
    connection.declared = Number(/content-length: (\\d+)/i.exec(head)[1]);
    connection.read = head.length - end - 4;
    const answer = JSON.stringify({ error: { code: "RequestTooLarge", message: "too large" } });
    socket.write("HTTP/1.1 413 Payload Too Large\\r\\ncontent-type: application/json\\r\\n" +
      "content-length: " + answer.length + "\\r\\n\\r\\n" + answer);
  };
  socket.on("data", onHead);
  socket.on("error", () => {});
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const raw = new CmqdClient({
  baseUrl: "http://127.0.0.1:" + server.address().port, transport, timeoutMs: 60000,
});
result.raw = await outcome(raw, "big", "x".repeat(16 * 1024 * 1024));
result.connections = connections.length;
// What the client still sends: all of the body if it kept writing, less if it gave up.
const [connection] = connections;
result.wholeBodySent = await new Promise((resolve) => {
  const done = () => resolve(connection.read >= connection.declared);
  connection.socket.on("data", (chunk) => {
    connection.read += chunk.length;
    if (connection.read >= connection.declared) done();
  });
  connection.socket.on("close", done);
  connection.socket.resume();
});
broker.close();
raw.close();
server.close();
for (const each of connections) each.socket.destroy();
console.log(JSON.stringify(result));
`;

Deno.test({
  name:
    "the bundled SDK in Node: a body over the bound is 413 RequestTooLarge once, not written on",
  ignore: !nodeAvailable,
  async fn() {
    const directory = await Deno.makeTempDir({ prefix: "cmqd-node-large-" });
    const broker = await startTestBroker();
    try {
      await bundleSdk(directory);
      await Deno.writeTextFile(`${directory}/large.mjs`, largeRequestScript);
      const run = await new Deno.Command("node", {
        args: ["large.mjs", broker.url],
        cwd: directory,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(run.success, new TextDecoder().decode(run.stderr));
      const tooLarge = { status: 413, code: "RequestTooLarge", requests: 1 };
      assert.deepEqual(JSON.parse(new TextDecoder().decode(run.stdout)), {
        broker: tooLarge,
        brokerDedup: tooLarge,
        enqueued: 0,
        raw: tooLarge,
        connections: 1,
        // Before: the request kept writing after its answer, the whole 16 MiB.
        wholeBodySent: false,
      });
    } finally {
      await broker.stop();
      await Deno.remove(directory, { recursive: true });
    }
  },
});

/**
 * Idle keep-alive connections from Node: the client's default transport closes one after its
 * idle time (4 s) with no hint; a server's `keep-alive: timeout=2` closes it sooner under a 60 s
 * idle time; a connection waiting 1 s for its answer outlives a 300 ms idle time. Each is seen
 * by a raw server (a closed connection is an event; a script gives up after 20 s).
 */
const idleScript = `
import net from "node:net";
import { defaultTransport } from "./sdk.mjs";
import { NodeHttpTransport } from "./transport_node.mjs";
/** A raw server answering each request after delayMs with extraHeaders; counts closed sockets. */
async function rawServer(extraHeaders, delayMs = 0) {
  let resolveClosed;
  const closed = new Promise((resolve) => resolveClosed = resolve);
  const sockets = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    let head = "";
    socket.on("data", (chunk) => {
      head += chunk.toString("latin1");
      if (!head.includes("\\r\\n\\r\\n")) return;
      head = "";
      setTimeout(() => socket.write("HTTP/1.1 200 OK\\r\\ncontent-length: 2\\r\\n" +
        extraHeaders + "\\r\\n{}"), delayMs);
    });
    socket.on("error", () => {});
    socket.on("close", () => resolveClosed("closed"));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = "http://127.0.0.1:" + server.address().port + "/";
  const stop = () => { server.close(); for (const socket of sockets) socket.destroy(); };
  return { url, closed, stop, connections: () => sockets.length };
}
const giveUp = () => new Promise((resolve) => setTimeout(() => resolve("still open"), 20000));
async function idleOutcome(transport, extraHeaders, delayMs) {
  const server = await rawServer(extraHeaders, delayMs);
  const answer = await transport.request({
    url: server.url, method: "GET", headers: {}, signal: AbortSignal.timeout(10000),
  });
  const body = await answer.text();
  const outcome = await Promise.race([server.closed, giveUp()]);
  transport.close();
  server.stop();
  return { status: answer.status, body, outcome, connections: server.connections() };
}
const [byDefault, hinted, slowAnswer] = await Promise.all([
  idleOutcome(defaultTransport(), ""),
  idleOutcome(new NodeHttpTransport({ idleTimeoutMs: 60000 }), "keep-alive: timeout=2\\r\\n"),
  idleOutcome(new NodeHttpTransport({ idleTimeoutMs: 300 }), "", 1000),
]);
console.log(JSON.stringify({ byDefault, hinted, slowAnswer }));
process.exit(0);
`;

Deno.test({
  name:
    "the bundled SDK in Node closes idle keep-alive connections (4 s, or a server's keep-alive hint)",
  ignore: !nodeAvailable,
  async fn() {
    const directory = await Deno.makeTempDir({ prefix: "cmqd-node-idle-" });
    try {
      await bundleSdk(directory);
      await bundle(directory, "sdk/transport_node.ts", "transport_node.mjs");
      await Deno.writeTextFile(`${directory}/idle.mjs`, idleScript);
      const run = await new Deno.Command("node", {
        args: ["idle.mjs"],
        cwd: directory,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(run.success, new TextDecoder().decode(run.stderr));
      const closed = { status: 200, body: "{}", outcome: "closed", connections: 1 };
      assert.deepEqual(JSON.parse(new TextDecoder().decode(run.stdout)), {
        byDefault: closed,
        hinted: closed,
        slowAnswer: closed,
      });
    } finally {
      await Deno.remove(directory, { recursive: true });
    }
  },
});

/**
 * `NodeHttpTransport` says it settles on abort (the client then spares it its race): in Node
 * itself, an abort in each phase of a request rejects it — before it is sent, while its head is
 * awaited, after the head before `text()`, while the body streams — against a server that stalls.
 * Each outcome is printed; one still pending after 5 s is printed as such.
 */
const abortScript = `
import * as net from "node:net";
import { NodeHttpTransport } from "./transport_node.mjs";
const server = net.createServer((socket) => {
  let text = "";
  socket.on("data", (chunk) => {
    text += chunk;
    if (!text.includes("\\r\\n\\r\\n")) return;
    if (text.startsWith("GET /partial")) {
      socket.write("HTTP/1.1 200 OK\\r\\ncontent-length: 100\\r\\n\\r\\n0123456789");
    }
  });
  socket.on("error", () => {});
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const base = "http://127.0.0.1:" + server.address().port;
const transport = new NodeHttpTransport();
const pause = () => new Promise((resolve) => setTimeout(resolve, 20));
const outcome = (promise) => {
  let timer;
  const hung = new Promise((resolve) => timer = setTimeout(() => resolve("pending"), 5000));
  return Promise.race([promise.then(() => "resolved", () => "rejected"), hung])
    .finally(() => clearTimeout(timer));
};
const send = (path, signal) => transport.request({ url: base + path, method: "GET", headers: {}, signal });
const results = { settlesOnAbort: transport.settlesOnAbort };
results.early = await outcome(send("/silent", AbortSignal.abort(new Error("early"))));
let controller = new AbortController();
let pending = send("/silent", controller.signal);
await pause();
controller.abort(new Error("no head"));
results.noHead = await outcome(pending);
controller = new AbortController();
let response = await send("/partial", controller.signal);
controller.abort(new Error("before the body"));
await pause();
results.beforeBody = await outcome(response.text());
controller = new AbortController();
response = await send("/partial", controller.signal);
const body = response.text();
await pause();
controller.abort(new Error("mid-body"));
results.midBody = await outcome(body);
transport.close();
server.close();
console.log(JSON.stringify(results));
process.exit(0);
`;

Deno.test({
  name: "NodeHttpTransport in Node settles on an abort in every phase of a request",
  ignore: !nodeAvailable,
  async fn() {
    const directory = await Deno.makeTempDir({ prefix: "cmqd-node-abort-" });
    try {
      await bundle(directory, "sdk/transport_node.ts", "transport_node.mjs");
      await Deno.writeTextFile(`${directory}/abort.mjs`, abortScript);
      const run = await new Deno.Command("node", {
        args: ["abort.mjs"],
        cwd: directory,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(run.success, new TextDecoder().decode(run.stderr));
      assert.deepEqual(JSON.parse(new TextDecoder().decode(run.stdout)), {
        settlesOnAbort: true,
        early: "rejected",
        noHead: "rejected",
        beforeBody: "rejected",
        midBody: "rejected",
      });
    } finally {
      await Deno.remove(directory, { recursive: true });
    }
  },
});

/**
 * In Node, `defaultTransport({ caCertificates })` (the `node:http` transport) trusts a private CA;
 * without it the certificate is refused. Prints one line per case.
 */
const caScript = `
import { readFileSync } from "node:fs";
import { defaultTransport } from "./sdk.mjs";
const [url, caFile] = process.argv.slice(2);
const get = async (transport) => {
  try {
    const answer = await transport.request({
      url, method: "GET", headers: {}, signal: AbortSignal.timeout(30000),
    });
    return answer.status + " " + await answer.text();
  } catch (error) {
    return error.name + ": " + error.message;
  } finally {
    transport.close();
  }
};
console.log(await get(defaultTransport({ caCertificates: [readFileSync(caFile, "utf8")] })));
console.log(await get(defaultTransport()));
`;

Deno.test({
  name: "the bundled SDK in Node trusts the caCertificates given to defaultTransport",
  ignore: !nodeAvailable || !hasOpenssl(),
  async fn() {
    const directory = await Deno.makeTempDir({ prefix: "cmqd-node-tls-" });
    try {
      const files = await makeCertificates(directory);
      const server = Deno.serve({
        hostname: "127.0.0.1",
        port: 0,
        cert: await Deno.readTextFile(files.cert),
        key: await Deno.readTextFile(files.key),
        onListen: () => {},
      }, () => Response.json({ status: "ok" }));
      try {
        await bundleSdk(directory);
        await Deno.writeTextFile(`${directory}/ca.mjs`, caScript);
        const run = await new Deno.Command("node", {
          args: ["ca.mjs", `https://localhost:${server.addr.port}/healthz`, files.ca],
          cwd: directory,
          stdout: "piped",
          stderr: "piped",
        }).output();
        assert.ok(run.success, new TextDecoder().decode(run.stderr));
        const [trusting, plain] = new TextDecoder().decode(run.stdout).trim().split("\n");
        assert.equal(trusting, '200 {"status":"ok"}');
        assert.match(
          plain,
          /^TransportError: .*(unable to verify the first certificate|unable to get local issuer certificate)/,
        );
      } finally {
        await server.shutdown();
      }
    } finally {
      await Deno.remove(directory, { recursive: true });
    }
  },
});
