/**
 * The v1 hot path in one isolate, without sockets: cycles of send 1, send 16, receive 16 and
 * delete 16 messages of 1 KB through the whole app over the real engine on an in-memory
 * replica (the queue stays near empty, so every cycle does the same work). Prints one JSON line
 * of the median **process CPU** µs per request of each route (CPU, not wall time: the machine
 * is shared, and CPU time moves less with the other workers' load; `--wall` for wall time).
 * Requests carry `content-length`, as every request from the SDK does, and come with a
 * connection's info, as `Deno.serve` passes it.
 *
 * A/B against another commit: export it and point `--root` at it, then alternate runs.
 *
 * ```sh
 * git archive <commit> | tar -x -C /tmp/base
 * for i in 1 2 3; do
 *   deno run -A --config deno.json bench/http_hot_path.ts --root /tmp/base
 *   deno run -A bench/http_hot_path.ts
 * done
 * ```
 *
 * @module
 */
import process from "node:process";

/** The options: `--root DIR` (a tree to load the broker from), `--rounds N`, `--cycles N`. */
function options(args: string[]): { root: string; rounds: number; cycles: number; wall: boolean } {
  const value = (name: string) => {
    const at = args.indexOf(name);
    return at < 0 ? undefined : args[at + 1];
  };
  return {
    root: value("--root") ?? new URL("..", import.meta.url).pathname,
    rounds: Number(value("--rounds") ?? 9),
    cycles: Number(value("--cycles") ?? 300),
    wall: args.includes("--wall"),
  };
}

const { root, rounds, cycles, wall } = options(Deno.args);
const clockMs = wall ? () => performance.now() : () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};
const broker = await import(`${root}/broker/testing.ts`);
const { broker: service } = broker.memoryEngine();
await service.createQueue("q", {});
const app = broker.createApp({
  service,
  status: new broker.FakeStatus(),
  metrics: new broker.Metrics(),
});

const body = "x".repeat(1024);
const sendOne = JSON.stringify({ messages: [{ body }] });
const sendSixteen = JSON.stringify({ messages: Array.from({ length: 16 }, () => ({ body })) });
const receive = JSON.stringify({ maxMessages: 16, waitSeconds: 0, visibilityTimeoutSeconds: 30 });
const routes = ["send1", "send16", "receive", "delete"] as const;

/**
 * The connection `Deno.serve` tells the app of, as it does: its `remoteAddr` a getter answering a
 * new object each time (the body budget counts each body against its connection's share).
 */
const info = {
  get remoteAddr() {
    return { transport: "tcp", hostname: "127.0.0.1", port: 40000 };
  },
  completed: Promise.resolve(),
};

async function post(path: string, text: string): Promise<string> {
  const response = await app.fetch(
    new Request(`http://broker/v1/queues/q${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", "content-length": String(text.length) },
      body: text,
    }),
    info,
  );
  const answer = await response.text();
  if (response.status !== 200) throw new Error(`${path}: ${response.status} ${answer}`);
  return answer;
}

/** One cycle; adds each request's time to `spentMs`. */
async function cycle(spentMs: number[]): Promise<void> {
  let started = clockMs();
  const lap = (route: number) => {
    const now = clockMs();
    spentMs[route] += now - started;
    started = now;
  };
  await post("/messages", sendOne);
  lap(0);
  await post("/messages", sendSixteen);
  lap(1);
  const received = JSON.parse(await post("/messages/receive", receive));
  lap(2);
  const handles = received.messages.map((message: { receiptHandle: string }) =>
    message.receiptHandle
  );
  const deleteText = JSON.stringify({ receiptHandles: handles });
  started = clockMs();
  await post("/messages/delete", deleteText);
  lap(3);
}

const warmup = [0, 0, 0, 0];
for (let index = 0; index < 500; index++) await cycle(warmup);
const samples: number[][] = routes.map(() => []);
for (let round = 0; round < rounds; round++) {
  const spentMs = [0, 0, 0, 0];
  for (let index = 0; index < cycles; index++) await cycle(spentMs);
  spentMs.forEach((spent, route) => samples[route].push(spent * 1000 / cycles));
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];
console.log(JSON.stringify({
  bench: "http_hot_path",
  unit: wall ? "wall us/request" : "cpu us/request",
  root,
  ...Object.fromEntries(routes.map((route, index) => [route, +median(samples[index]).toFixed(1)])),
}));
