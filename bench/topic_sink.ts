/**
 * The topic bench's no-op push sink: it parses each push's JSON body (as a real receiver would),
 * notes its publish-to-arrival latency and message id, and answers 204. `startSink` serves it on
 * the calling thread; `startSinkThread` on a worker thread of its own (`topic_sink_worker.ts`),
 * so that it does not share an event loop with the bench's publishers, as a real receiver would
 * not.
 *
 * @module
 */

/** A running sink. */
export interface Sink {
  url: string;
  /** Requests wait until `unhold` (the drain shape builds a backlog behind those in flight). */
  hold(): void;
  unhold(): void;
  /** Distinct messages received so far. */
  count(): number;
  /** When the last push arrived, on this thread's `performance.now()` clock (0 before any). */
  lastPushMs(): number;
  /** Publish-to-arrival latencies (sorted) and how many messages arrived more than once. */
  report(): Promise<{ latenciesMs: number[]; duplicates: number }>;
  shutdown(): Promise<void>;
}

/** Serves the sink on this thread. */
export function startSink(): Sink {
  const received = new Map<string, number>();
  const latenciesMs: number[] = [];
  let lastPushMs = 0;
  let release = () => {};
  let held: Promise<void> | null = null;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    if (held !== null) await held;
    const notification = await request.json();
    latenciesMs.push(Date.now() - notification.publishTimeMs);
    received.set(notification.msgId, (received.get(notification.msgId) ?? 0) + 1);
    lastPushMs = performance.now();
    return new Response(null, { status: 204 });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/push`,
    hold() {
      held = new Promise((resolve) => release = resolve);
    },
    unhold() {
      held = null;
      release();
    },
    count: () => received.size,
    lastPushMs: () => lastPushMs,
    report() {
      latenciesMs.sort((a, b) => a - b);
      const duplicates = [...received.values()].filter((count) => count > 1).length;
      return Promise.resolve({ latenciesMs, duplicates });
    },
    shutdown: () => server.shutdown(),
  };
}

/** Messages from a sink worker. */
type SinkEvent =
  | { type: "listening"; url: string }
  | { type: "progress"; count: number; lastPushEpochMs: number }
  | { type: "report"; latenciesMs: number[]; duplicates: number }
  | { type: "closed" };

/** Serves the sink on a worker thread of its own. */
export async function startSinkThread(): Promise<Sink> {
  const worker = new Worker(new URL("./topic_sink_worker.ts", import.meta.url).href, {
    type: "module",
  });
  let count = 0;
  let lastPushEpochMs = 0;
  const waiting = new Map<string, (event: SinkEvent) => void>();
  const next = (type: SinkEvent["type"]) =>
    new Promise<SinkEvent>((resolve) => waiting.set(type, resolve));
  worker.onmessage = (message: MessageEvent<SinkEvent>) => {
    const event = message.data;
    if (event.type === "progress") {
      count = event.count;
      lastPushEpochMs = event.lastPushEpochMs;
    }
    waiting.get(event.type)?.(event);
  };
  const listening = await next("listening") as { url: string };
  const ask = async <T extends SinkEvent>(type: T["type"]): Promise<T> => {
    const answer = next(type);
    worker.postMessage(type);
    return await answer as T;
  };
  return {
    url: listening.url,
    hold: () => worker.postMessage("hold"),
    unhold: () => worker.postMessage("unhold"),
    count: () => count,
    // Both threads' clocks are converted through the wall-clock origin of each.
    lastPushMs: () => lastPushEpochMs === 0 ? 0 : lastPushEpochMs - performance.timeOrigin,
    async report() {
      const { latenciesMs, duplicates } = await ask<Extract<SinkEvent, { type: "report" }>>(
        "report",
      );
      const progress = await ask<Extract<SinkEvent, { type: "progress" }>>("progress");
      count = progress.count;
      lastPushEpochMs = progress.lastPushEpochMs;
      return { latenciesMs, duplicates };
    },
    async shutdown() {
      await ask("closed");
      worker.terminate();
    },
  };
}
