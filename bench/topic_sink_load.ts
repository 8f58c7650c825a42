/**
 * The load side of `topic_load.ts --shape sink`: a Worker that POSTs push-shaped JSON bodies to
 * the bench's no-op sink with the broker's own `PushHttpClient`, `concurrency` requests in
 * flight, for `seconds`, then posts back how many were answered with a 2xx. It runs on its own
 * thread so that the sink's thread (the bench's main thread) can be measured alone.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { PushHttpClient } from "../broker/testing.ts";

interface Job {
  url: string;
  seconds: number;
  concurrency: number;
  size: number;
}

self.onmessage = async (event: MessageEvent<Job>) => {
  const { url, seconds, concurrency, size } = event.data;
  const client = new PushHttpClient();
  const headers = { "content-type": "text/plain; charset=utf-8", "x-cmq-message-id": "bench" };
  const endMs = performance.now() + seconds * 1000;
  let answered = 0;
  let failed = 0;
  const loop = async () => {
    while (performance.now() < endMs) {
      const now = Date.now();
      const body = JSON.stringify({
        TopicOwner: 0,
        topicName: "sink",
        subscriptionName: "sink",
        msgId: `m${answered}`,
        msgBody: "x".repeat(size),
        publishTime: Math.floor(now / 1000),
        publishTimeMs: now,
        msgTag: [],
      });
      const signal = new AbortController().signal;
      try {
        const response = await client.fetch(url, { method: "POST", headers, body, signal });
        if (response.status >= 200 && response.status < 300) answered++;
        else failed++;
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  client.close();
  self.postMessage({ answered, failed });
};
