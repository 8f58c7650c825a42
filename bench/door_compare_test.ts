import assert from "node:assert/strict";
import { cpuPerMessage, doorPairs, doorTable, median } from "./door_compare.ts";
import { defaultLoadOptions, type LoadResult } from "./load.ts";

Deno.test("doorPairs: each door beside v1 in its own request pattern", () => {
  const options = { ...defaultLoadOptions, batch: 16, ackMode: "piggyback" as const };
  const [cmq, sqs] = doorPairs(options);
  assert.equal(cmq.door, "cmq");
  assert.deepEqual(
    [cmq.v1.client, cmq.v1.batch, cmq.v1.ackMode, cmq.through.client, cmq.through.batch],
    ["fetch", 16, "separate", "cmq", 16],
  );
  assert.equal(cmq.through.ackMode, "separate");
  // SQS batches hold at most 10: both sides run at 10.
  assert.deepEqual([sqs.v1.batch, sqs.through.batch, sqs.through.client], [10, 10, "sqs"]);
  assert.equal(doorPairs({ ...options, batch: 4 })[1].v1.batch, 4);
  assert.notEqual(cmq.v1.system, cmq.through.system);
  // With --client http1 both sides go over Http1Transport.
  const raw = doorPairs({ ...options, client: "http1" });
  assert.deepEqual(
    raw.map((pair) => [pair.v1.client, pair.through.client]),
    [["http1", "cmq-http1"], ["http1", "sqs-http1"]],
  );
});

Deno.test("median of the numbers only; even counts average the middle two", () => {
  assert.equal(median([3, null, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 3);
  assert.equal(median([null, undefined]), null);
});

function row(shape: "produce" | "consume", system: string, rate: number): LoadResult {
  return {
    system,
    config: "",
    replicas: 1,
    shape,
    msgSize: 1024,
    producers: 4,
    consumers: 4,
    seconds: 1,
    producedPerSec: shape === "produce" ? rate : null,
    consumedPerSec: shape === "consume" ? rate : null,
    p50ms: null,
    p99ms: null,
    batch: 16,
    brokerCpuPct: 50,
  };
}

Deno.test("doorTable: medians per door and shape, the door's share of v1, CPU per message", () => {
  const options = { ...defaultLoadOptions, shape: "produce,consume" };
  const rows = new Map([
    ["cmq/v1/produce", [row("produce", "v1", 1000), row("produce", "v1", 3000)]],
    ["cmq/door/produce", [row("produce", "cmq", 900), row("produce", "cmq", 1900)]],
    ["sqs/v1/consume", [row("consume", "v1", 500)]],
    ["sqs/door/consume", [row("consume", "sqs", 250)]],
  ]);
  const table = doorTable(options, rows).split("\n");
  assert.equal(table.length, 4);
  assert.match(
    table[2],
    /^\| cmq \| produce \| batch 16, ack separate \| 2 \| 2000 \| 1400 \| 70% \|/,
  );
  assert.match(
    table[3],
    /^\| sqs \| consume \| batch 10, ack separate \| 1 \| – \| – \| – \| 500 \| 250 \| 50% \| 1000 \/ 2000 \|$/,
  );
  assert.equal(cpuPerMessage(row("produce", "v1", 2000)), 250);
  assert.equal(cpuPerMessage({ ...row("produce", "v1", 2000), brokerCpuPct: undefined }), null);
});
