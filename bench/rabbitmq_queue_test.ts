import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { LatencySamples } from "./load_runner.ts";
import { cpuSeconds, cpuSecondsOf, readPidFiles } from "./process_stats.ts";
import {
  defaultQueueOptions,
  parseQueueArgs,
  queueRow,
  queueShapeList,
  type QueueWindow,
} from "./rabbitmq_queue.ts";
import { PublishWindow, RatePacer, sendTimeOf, stampedBody } from "./rabbitmq_queue_clients.ts";
import { summarize } from "./summarize.ts";

Deno.test("options: the harness's defaults, spaced and joined flags, a URL list", () => {
  const defaults = parseQueueArgs([]);
  assert.equal(defaults.window, 1000);
  assert.equal(defaults.prefetch, 1000);
  assert.equal(defaults.prefill, 300_000);
  assert.equal(defaults.rate, 1000);
  assert.equal(defaults.size, 1024);
  assert.deepEqual(queueShapeList(defaults.shape), ["produce", "consume", "both", "latency"]);
  const urls = "amqp://a:5672,amqp://b:5673";
  const options = parseQueueArgs([
    "--producers",
    "4",
    "--broker-pid-files=/x/beam.pid",
    "--url",
    urls,
    "--shape",
    "latency, produce",
  ]);
  assert.equal(options.producers, 4);
  assert.equal(options.brokerPidFiles, "/x/beam.pid");
  assert.equal(options.url, urls);
  assert.equal(options.consumers, defaultQueueOptions.consumers);
  assert.deepEqual(queueShapeList(options.shape), ["latency", "produce"]);
});

Deno.test("options: a typo or a bad value is an error, never a silent default", () => {
  assert.throws(() => parseQueueArgs(["--producer", "4"]), /unknown option --producer/);
  assert.throws(() => parseQueueArgs(["--seconds", "ten"]), /--seconds needs a number/);
  assert.throws(() => parseQueueArgs(["--seconds", ""]), /--seconds needs a number/);
  assert.throws(() => parseQueueArgs(["--seconds"]), /--seconds needs a value/);
  assert.throws(() => parseQueueArgs(["--url", "--seconds", "3"]), /--url needs a value/);
  assert.throws(() => parseQueueArgs(["produce"]), /unexpected argument/);
  assert.throws(() => parseQueueArgs(["--shape", "produce,fast"]), /unknown shape 'fast'/);
  assert.throws(() => parseQueueArgs(["--shape", "backlog"]), /backlog/);
  assert.throws(() => parseQueueArgs(["--shape", ","]), /no shape/);
  assert.throws(() => parseQueueArgs(["--window", "1.5"]), /--window is an integer/);
  assert.throws(() => parseQueueArgs(["--producers", "0"]), /--producers is an integer/);
  assert.throws(() => parseQueueArgs(["--prefetch", "70000"]), /--prefetch is an integer/);
  assert.throws(() => parseQueueArgs(["--size", "4"]), /--size is an integer/);
  assert.throws(() => parseQueueArgs(["--rate", "0"]), /--rate/);
  assert.throws(() => parseQueueArgs(["--seconds", "0"]), /--seconds/);
  assert.throws(() => parseQueueArgs(["--url", "http://127.0.0.1:8080"]), /not an amqp/);
  assert.throws(() => parseQueueArgs(["--url", ","]), /no AMQP URL/);
});

Deno.test("the window keeps at most its limit in flight; each confirm frees one slot", () => {
  const window = new PublishWindow(3);
  assert.equal([1, 2, 3, 4].filter(() => window.take()).length, 3);
  assert.equal(window.inFlight, 3);
  window.settle(true);
  assert.equal(window.take(), true);
  assert.equal(window.take(), false);
  window.settle(true);
  window.settle(false);
  assert.deepEqual([window.inFlight, window.confirmed, window.failed], [1, 2, 1]);
  assert.equal(window.spent, false, "no budget: never spent");
});

Deno.test("a shared budget publishes exactly its count over the windows, nacks included", () => {
  const budget = { left: 5 };
  const first = new PublishWindow(4, budget);
  const second = new PublishWindow(4, budget);
  let taken = 0;
  while (first.take()) taken++;
  while (second.take()) taken++;
  assert.equal(taken, 5);
  assert.equal(budget.left, 0);
  for (let index = 0; index < 4; index++) first.settle(true);
  assert.equal(first.spent, true);
  second.settle(false); // the nacked message goes back to the budget
  assert.equal(budget.left, 1);
  assert.equal(second.spent, false);
  assert.equal(first.take(), true);
  first.settle(true);
  assert.equal(first.spent, true);
  assert.equal(first.confirmed + second.confirmed, 5);
});

Deno.test("the pacer keeps the count on the rate: a late timer sends the missed messages", () => {
  const pacer = new RatePacer(1000, 100);
  assert.equal(pacer.due(100), true);
  pacer.sent++;
  assert.equal(pacer.due(100.5), false);
  assert.equal(pacer.nextDueMs(), 101);
  let burst = 0;
  while (pacer.due(110)) {
    pacer.sent++;
    burst++;
  }
  assert.equal(burst, 10, "messages 1..10 were due by 110 ms");
  assert.equal(pacer.sent, 11);
  const quarter = new RatePacer(250, 0);
  quarter.sent = 3;
  assert.equal(quarter.nextDueMs(), 12);
  const unpaced = new RatePacer(0, 0);
  unpaced.sent = 1e9;
  assert.equal(unpaced.due(0), true);
});

Deno.test("a body carries its send time in 8 bytes and keeps its size", () => {
  const template = Buffer.alloc(1024, 0x78);
  const body = stampedBody(template, 1234.5678);
  assert.equal(body.length, 1024);
  assert.equal(sendTimeOf(body), 1234.5678);
  assert.equal(body[8], 0x78);
  assert.equal(template[0], 0x78, "the template is not stamped");
  assert.ok(Number.isNaN(sendTimeOf(Buffer.alloc(4))));
});

const window: QueueWindow = {
  seconds: 5,
  produced: 75_000,
  consumed: 0,
  errors: 0,
  clientCpuPct: 20,
  brokerCpuPct: 120,
};

Deno.test("rows carry load.ts's fields and sit beside cmqd's in summarize's table", () => {
  const options = parseQueueArgs(["--replicas", "1"]);
  const produce = queueRow(options, {
    shape: "produce",
    producers: 1,
    consumers: 0,
    window,
    samples: null,
  });
  assert.equal(produce.system, "rabbitmq");
  assert.equal(produce.config, "quorum-queue");
  assert.equal(produce.producedPerSec, 15_000);
  assert.equal(produce.consumedPerSec, null);
  assert.equal(produce.p50ms, null);
  assert.equal(produce.brokerCpuPct, 120);
  const samples = new LatencySamples();
  for (let ms = 1; ms <= 100; ms++) samples.add(ms);
  const latency = queueRow(options, {
    shape: "latency",
    producers: 1,
    consumers: 1,
    window: { ...window, produced: 5000, consumed: 4990 },
    samples,
    extra: { rate: 1000 },
  });
  assert.deepEqual([latency.producedPerSec, latency.consumedPerSec], [1000, 998]);
  assert.deepEqual([latency.p50ms, latency.p99ms, latency.rate], [51, 100, 1000]);
  const cmqd = { ...produce, system: "cmqd", config: "sdk-client", producedPerSec: 30_000 };
  const rows = summarize([cmqd, produce, latency]).split("\n");
  assert.equal(rows.length, 5);
  assert.match(
    rows[3],
    /^\| rabbitmq \| quorum-queue \| 1 \| produce \| 1\/0 \| 15000 → \*\*15000\*\* \|/,
  );
  assert.match(rows[4], /\| latency \| 1\/1 \| 1000 → \*\*1000\*\* \| 998 → \*\*998\*\* \| 51\.00/);
});

Deno.test("broker PIDs come from a comma list of PID files; CPU sums over them", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const good = `${dir}/beam.pid`;
    const bad = `${dir}/bad.pid`;
    Deno.writeTextFileSync(good, `${Deno.pid}\n`);
    Deno.writeTextFileSync(bad, "nope");
    assert.deepEqual(readPidFiles(""), []);
    assert.deepEqual(readPidFiles(`${good}, ${good}`), [Deno.pid, Deno.pid]);
    assert.throws(() => readPidFiles(bad), /not a PID/);
    assert.throws(() => readPidFiles(`${good},${dir}/missing.pid`), /missing\.pid/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
  assert.equal(cpuSecondsOf([]), null);
  assert.equal(cpuSecondsOf([Deno.pid, 0x7ffffffe]), null, "a gone process: no figure");
  const one = cpuSeconds(Deno.pid)!;
  assert.ok(cpuSecondsOf([Deno.pid, Deno.pid])! >= 2 * one);
});
