/**
 * What one send costs with many receives parked on its queue: parks `--parked` long polls on a
 * fresh queue of a running broker, sends one message, waits until one poll answers with it, and
 * prints how many log entries that took (from `cmqd_applied_index` on `/metrics`) and how many
 * polls answered. Each poll is its own fetch (HTTP/1.1 keep-alive: one connection per poll).
 *
 * ```sh
 * deno run -A bench/parked_polls_probe.ts --url http://127.0.0.1:9876 --parked 1000
 * ```
 *
 * @module
 */
import { option, textOption } from "./cli_options.ts";

const url = textOption("url", "http://127.0.0.1:9876");
const parked = option("parked", 1000);
const queue = `parked-${Date.now()}`;
const base = `${url}/v1/queues/${queue}`;
const json = { "content-type": "application/json" };

async function appliedIndex(): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^cmqd_applied_index (\d+)/m.exec(text)?.[1] ?? NaN);
}

await (await fetch(base, { method: "PUT", headers: json, body: "{}" })).text();
const controller = new AbortController();
let answered = 0;
let delivered = 0;
const polls = Array.from({ length: parked }, async () => {
  try {
    const response = await fetch(`${base}/messages/receive`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ maxMessages: 16, waitSeconds: 20 }),
      signal: controller.signal,
    });
    const result = await response.json();
    answered++;
    delivered += result.messages?.length ?? 0;
  } catch {
    // aborted at the end
  }
});
// Let every poll reach the broker and park.
await new Promise((resolve) => setTimeout(resolve, 2_000));
const before = await appliedIndex();
const sent = await fetch(`${base}/messages`, {
  method: "POST",
  headers: json,
  body: JSON.stringify({ messages: [{ body: "one" }] }),
});
await sent.text();
for (let waited = 0; delivered === 0 && waited < 5_000; waited += 10) {
  await new Promise((resolve) => setTimeout(resolve, 10));
}
// Give a herd, if any, time to show in the log.
await new Promise((resolve) => setTimeout(resolve, 1_000));
const after = await appliedIndex();
console.log(JSON.stringify({ parked, logEntries: after - before, answered, delivered }));
controller.abort();
await Promise.allSettled(polls);
await fetch(base, { method: "DELETE" }).then((response) => response.text()).catch(() => {});
