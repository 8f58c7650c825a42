/**
 * `deno bench` of the JSON work of one API batch (16 messages of 1 KB), for reference against
 * the storage and apply costs: what every send and receive request pays at least once.
 *
 * @module
 */

import type { SendMessagesRequest } from "../sdk/mod.ts";

const body = "x".repeat(1024);
const batch: SendMessagesRequest = {
  messages: Array.from({ length: 16 }, () => ({ body })),
};
const text = JSON.stringify(batch);
const bytes = new TextEncoder().encode(text);
const decoder = new TextDecoder();

Deno.bench("JSON.stringify 16 × 1 KB batch", { group: "json", baseline: true }, () => {
  JSON.stringify(batch);
});

Deno.bench("JSON.parse 16 × 1 KB batch", { group: "json" }, () => {
  JSON.parse(text);
});

Deno.bench("decode UTF-8 + JSON.parse 16 × 1 KB batch", { group: "json" }, () => {
  JSON.parse(decoder.decode(bytes));
});
