import assert from "node:assert/strict";
import { parseLoadArgs, runLoad } from "./load.ts";
import { startNoopServer } from "./noop_server.ts";
import { diskFromMetricsText, diskPerMessage } from "./process_stats.ts";
import { startTestBroker } from "../sdk/testing.ts";

const quick = ["--seconds", "0.4", "--warmup", "0.1", "--prefill", "800", "--rate", "200"];

Deno.test("every shape runs against the no-op server and reports the benchmark row's fields", async (t) => {
  const server = await startNoopServer({ port: 0 });
  try {
    for (const threads of ["0", "2"]) {
      await t.step(`with ${threads} worker threads`, async () => {
        const options = parseLoadArgs([
          "--url",
          server.url,
          "--threads",
          threads,
          "--system",
          "noop",
          ...quick,
        ]);
        const rows = await runLoad(options);
        assert.deepEqual(rows.map((row) => row.shape), ["produce", "consume", "both", "latency"]);
        for (const row of rows) {
          for (const field of ["system", "config", "replicas", "msgSize", "seconds", "batch"]) {
            assert.ok(field in row, `${row.shape} lacks ${field}`);
          }
          assert.equal(row.errors, 0);
        }
        const [produce, consume, both, latency] = rows;
        assert.ok((produce.producedPerSec ?? 0) > 0);
        assert.equal(consume.prefilled, 800);
        assert.ok((consume.consumedPerSec ?? 0) > 0);
        assert.ok((both.consumedPerSec ?? 0) > 0);
        assert.ok(both.p50ms !== null && both.p50ms >= 0);
        assert.ok(latency.p99ms !== null);
        assert.equal(latency.batch, 1);
        // The no-op server has no log: the broker's disk figures are there, and unknown.
        assert.equal(latency.brokerFsyncsPerMessage, null);
        assert.equal(latency.logEntriesPerMessage, null);
      });
    }
  } finally {
    await server.shutdown();
  }
});

Deno.test("every consumed message is deleted, in every ack mode", async (t) => {
  const server = await startNoopServer({ port: 0 });
  try {
    for (const ackMode of ["piggyback", "piggyback-wait", "separate"]) {
      await t.step(ackMode, async () => {
        const options = parseLoadArgs([
          "--url",
          server.url,
          "--client",
          "fetch",
          "--threads",
          "0",
          "--shape",
          "consume",
          "--ack-mode",
          ackMode,
          "--seconds",
          "5",
          "--prefill",
          "1000",
        ]);
        const [row] = await runLoad(options);
        assert.equal(row.drainedEarly, true);
        assert.equal(row.ackMode, ackMode);
      });
    }
  } finally {
    await server.shutdown();
  }
});

Deno.test("the backlog shape reports RSS per message and the restart-to-ready time", async () => {
  const server = await startNoopServer({ port: 0 });
  try {
    const options = parseLoadArgs([
      "--url",
      server.url,
      "--client",
      "fetch",
      "--threads",
      "0",
      "--shape",
      "backlog",
      "--backlog-messages",
      "3000",
      "--settle-seconds",
      "0",
    ]);
    let restarts = 0;
    const [row] = await runLoad(options, {
      restart: () => {
        restarts++;
        return Promise.resolve({ pid: 0 });
      },
    });
    assert.equal(restarts, 1);
    assert.equal(row.backlog, 3000);
    assert.equal(row.backlogAfterRestart, 3000);
    assert.equal(typeof row.rssBytesPerMessage, "number");
    assert.equal(typeof row.restartToReadyMs, "number");
  } finally {
    await server.shutdown();
  }
});

Deno.test("--api raw,helpers runs each shape through both, side by side", async () => {
  const server = await startNoopServer({ port: 0 });
  try {
    const options = parseLoadArgs([
      "--url",
      server.url,
      "--api",
      "raw,helpers",
      "--threads",
      "0",
      "--shape",
      "produce,consume,both",
      ...quick,
    ]);
    const rows = await runLoad(options);
    assert.deepEqual(rows.map((row) => `${row.shape}/${row.api}`), [
      "produce/raw",
      "produce/helpers",
      "consume/raw",
      "consume/helpers",
      "both/raw",
      "both/helpers",
    ]);
    for (const row of rows) assert.equal(row.errors, 0, `${row.shape}/${row.api}`);
    const helpers = rows.filter((row) => row.api === "helpers");
    assert.ok(helpers.every((row) => row.config === "sdk-helpers"));
    assert.ok((helpers[0].producedPerSec ?? 0) > 0);
    assert.equal(helpers[1].prefilled, 800);
    assert.ok((helpers[1].consumedPerSec ?? 0) > 0);
    assert.ok((helpers[2].consumedPerSec ?? 0) > 0 && helpers[2].p50ms !== null);
  } finally {
    await server.shutdown();
  }
});

Deno.test("against cmqd a row gives the broker's fdatasyncs and log entries per message", async () => {
  const broker = await startTestBroker();
  try {
    const options = parseLoadArgs(["--url", broker.url, "--shape", "latency", ...quick]);
    const [latency] = await runLoad(options);
    assert.equal(latency.errors, 0);
    assert.ok((latency.producedPerSec ?? 0) > 0);
    // One message at a time: its send (and lock) and its deletes are entries of their own or
    // shared with a neighbour's, never none; every entry waited for an fdatasync.
    const entries = latency.logEntriesPerMessage as number;
    const fsyncs = latency.brokerFsyncsPerMessage as number;
    assert.ok(entries >= 1 && entries <= 4, `${entries} entries per message`);
    assert.ok(fsyncs > 0 && fsyncs <= entries + 0.5, `${fsyncs} fdatasyncs per message`);
    assert.ok((latency.brokerFsyncMeanMs as number) > 0);
  } finally {
    await broker.stop();
  }
});

Deno.test("the disk counters are read from a Prometheus page and taken per message", () => {
  const page = "# HELP x\ncmqd_fsyncs_total 10\ncmqd_fsync_seconds_total 0.005\n" +
    "cmqd_applied_index 40\nprocess_resident_memory_bytes 1e6\n";
  const start = diskFromMetricsText(page)!;
  assert.deepEqual(start, { fsyncs: 10, fsyncSeconds: 0.005, appliedIndex: 40 });
  assert.equal(diskFromMetricsText("cmqd_fsyncs_total 3\n"), null, "a counter missing");
  const end = { fsyncs: 70, fsyncSeconds: 0.035, appliedIndex: 140 };
  assert.deepEqual(diskPerMessage(start, end, 50), {
    brokerFsyncsPerMessage: 1.2,
    brokerFsyncMeanMs: 0.5,
    logEntriesPerMessage: 2,
  });
  const unknown = {
    brokerFsyncsPerMessage: null,
    brokerFsyncMeanMs: null,
    logEntriesPerMessage: null,
  };
  assert.deepEqual(diskPerMessage(null, end, 50), unknown);
  assert.deepEqual(diskPerMessage(start, end, 0), unknown);
});
