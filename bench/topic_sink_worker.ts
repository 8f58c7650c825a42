/**
 * The worker side of `startSinkThread` (`topic_sink.ts`): serves the sink on this thread and
 * reports its progress (distinct messages received, last arrival) every 10 ms while it changes.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { startSink } from "./topic_sink.ts";

const sink = startSink();
let reported = -1;
const progress = () => ({
  type: "progress",
  count: sink.count(),
  lastPushEpochMs: sink.lastPushMs() === 0 ? 0 : performance.timeOrigin + sink.lastPushMs(),
});
const timer = setInterval(() => {
  if (sink.count() === reported) return;
  reported = sink.count();
  self.postMessage(progress());
}, 10);
self.onmessage = async (event: MessageEvent<string>) => {
  if (event.data === "hold") sink.hold();
  else if (event.data === "unhold") sink.unhold();
  else if (event.data === "progress") self.postMessage(progress());
  else if (event.data === "report") self.postMessage({ type: "report", ...await sink.report() });
  else if (event.data === "closed") {
    clearInterval(timer);
    await sink.shutdown();
    self.postMessage({ type: "closed" });
  }
};
self.postMessage({ type: "listening", url: sink.url });
