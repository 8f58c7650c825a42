/**
 * Where does a consumer lose to a producer? A probe of the broker's own scheduling: one node in
 * this process (real log, real fsync), `--producers` send lanes and `--consumers` receive lanes
 * calling its HTTP handler directly (no sockets, no client library), a backlog so that every
 * receive finds messages. Equal lanes and a fair broker give consumed ≈ produced; the output
 * also has each kind's mean time inside the broker.
 *
 * ```sh
 * deno run -A bench/fairness_probe.ts --seconds 5 --producers 16 --consumers 16
 * deno run -A bench/fairness_probe.ts --url http://127.0.0.1:9876   # a broker over sockets
 * ```
 *
 * With `--url` the same lanes go through `fetch` to a running broker (keep-alive HTTP/1.1), so
 * the difference between the two runs is the socket layer and the client's HTTP stack.
 *
 * Both kinds run in one isolate, so machine load slows them alike: the ratio is the figure.
 *
 * @module
 */
import { noPeers, realClock, realTimers, startNode } from "../broker/mod.ts";
import { RealFileSystem } from "../storage/mod.ts";
import { option } from "./cli_options.ts";

const seconds = option("seconds", 5);
const producers = option("producers", 16);
const consumers = option("consumers", 16);
const prefill = option("prefill", 50_000);
const batch = 16;
const body = "x".repeat(1024);

const urlAt = Deno.args.indexOf("--url");
const remote = urlAt < 0 ? null : Deno.args[urlAt + 1];
const dir = await Deno.makeTempDir({ prefix: "cmqd-fairness-" });
const node = remote !== null ? null : await startNode({
  nodeId: "n1",
  dataDir: dir,
  fs: new RealFileSystem(),
  clock: realClock,
  timers: realTimers,
  transport: noPeers(),
  initialVoters: ["n1"],
  url: "http://127.0.0.1:1",
});
const queue = `probe-${Date.now()}`;
const base = `${remote ?? "http://127.0.0.1:1"}/v1/queues/${queue}`;
const call = async (path: string, payload: unknown) => {
  const request = new Request(base + path, {
    method: path === "" ? "PUT" : "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(payload),
  });
  const response = node !== null ? await node.handler(request) : await fetch(request);
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return await response.json();
};

while (node !== null && !node.replica.isLeader) await new Promise((r) => setTimeout(r, 10));
await call("", {});
const sendBody = { messages: Array.from({ length: batch }, () => ({ body })) };
for (let sent = 0; sent < prefill; sent += batch * 16) {
  await Promise.all(Array.from({ length: 16 }, () => call("/messages", sendBody)));
}

console.error("probe: measuring");
const stats = { produced: 0, consumed: 0, sendMs: 0, sends: 0, receiveMs: 0, receives: 0 };
let running = true;
const sendLane = async () => {
  while (running) {
    const started = performance.now();
    await call("/messages", sendBody);
    stats.sendMs += performance.now() - started;
    stats.sends++;
    stats.produced += batch;
  }
};
const receiveLane = async () => {
  let handles: string[] = [];
  while (running) {
    const started = performance.now();
    const request: Record<string, unknown> = { maxMessages: batch, waitSeconds: 0 };
    if (handles.length > 0) request.deleteReceiptHandles = handles;
    const result = await call("/messages/receive", request);
    stats.receiveMs += performance.now() - started;
    stats.receives++;
    stats.consumed += result.deleted ?? 0;
    handles = result.messages.map((message: { receiptHandle: string }) => message.receiptHandle);
  }
};
const lanes = [
  ...Array.from({ length: producers }, sendLane),
  ...Array.from({ length: consumers }, receiveLane),
];
await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
running = false;
await Promise.all(lanes);
console.log(JSON.stringify({
  producedPerSec: Math.round(stats.produced / seconds),
  consumedPerSec: Math.round(stats.consumed / seconds),
  ratio: Number((stats.consumed / stats.produced).toFixed(2)),
  sendMeanMs: Number((stats.sendMs / stats.sends).toFixed(2)),
  receiveMeanMs: Number((stats.receiveMs / stats.receives).toFixed(2)),
  producers,
  consumers,
  via: remote === null ? "in-process handler" : "fetch over sockets",
}));
await node?.close();
await Deno.remove(dir, { recursive: true });
