/**
 * The RabbitMQ side of the topic fan-out benchmark (a bench script, not a product dependency):
 * the shape of `topic_load.ts --shape fanout` on RabbitMQ. A durable topic exchange is bound to 3
 * quorum queues with `orders.#`; `--publishers` connections each run `--inflight` confirm
 * channels; each channel publishes `--batch` persistent messages of `--size` bytes with routing
 * key `orders.eu.paid` (every message reaches all three queues), then waits for their confirms,
 * and repeats. Counts confirmed messages/s over `--seconds` after `--warmup`, and the batch's
 * publish-to-confirm latency; prints one JSON line shaped like `topic_load.ts`'s fanout row.
 *
 * ```sh
 * # a RabbitMQ 3.10 on 127.0.0.1:5672 (e.g. the Debian package), started beforehand
 * deno run -A bench/rabbitmq_topic.ts --broker-pid-file <its beam.pid>
 * ```
 *
 * Options (defaults): `--url amqp://guest:guest@127.0.0.1:5672 --seconds 10 --warmup 2
 * --size 1024 --batch 16 --publishers 4 --inflight 4 --broker-pid-file ""`. The exchange and
 * queues are named per run and deleted at the end.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import {
  type AmqpChannel,
  type AmqpConnection,
  connectAmqp,
  openChannel,
  urlList,
} from "./amqp_client.ts";
import { parseFlags } from "./cli_options.ts";
import { fanoutRow } from "./fanout_row.ts";
import { cpuSeconds, readPidFiles } from "./process_stats.ts";

const defaults = {
  url: "amqp://guest:guest@127.0.0.1:5672",
  seconds: 10,
  warmup: 2,
  size: 1024,
  batch: 16,
  publishers: 4,
  inflight: 4,
  brokerPidFile: "",
};

type Options = typeof defaults;

function parseOptions(args: string[]): Options {
  const options = parseFlags(args, defaults);
  for (const [key, value] of Object.entries(options)) {
    if (typeof value === "number" && value < 0) throw new Error(`--${key}: not a number >= 0`);
  }
  if (urlList(options.url).length !== 1) throw new Error("--url takes one AMQP URL here");
  return options;
}

/** Declares the exchange and its 3 quorum queues; returns their names. */
async function declare(channel: AmqpChannel, stamp: string) {
  const exchange = `fanout-${stamp}`;
  await channel.assertExchange(exchange, "topic", { durable: true });
  const queues: string[] = [];
  for (let index = 0; index < 3; index++) {
    const queue = `fanout-${stamp}-q${index}`;
    await channel.assertQueue(queue, {
      durable: true,
      arguments: { "x-queue-type": "quorum" },
    });
    await channel.bindQueue(queue, exchange, "orders.#");
    queues.push(queue);
  }
  return { exchange, queues };
}

async function run(options: Options) {
  const stamp = Date.now().toString(36);
  const admin = await connectAmqp(options.url, "rabbitmq_topic");
  const adminChannel = await openChannel(admin, "rabbitmq_topic");
  const { exchange, queues } = await declare(adminChannel, stamp);
  const [pid = 0] = readPidFiles(options.brokerPidFile);
  const body = Buffer.alloc(options.size, 0x78);
  const connections = await Promise.all(
    Array.from({ length: options.publishers }, () => connectAmqp(options.url, "rabbitmq_topic")),
  );
  const startMs = performance.now();
  const measureFromMs = startMs + options.warmup * 1000;
  const endMs = measureFromMs + options.seconds * 1000;
  let brokerCpuStart: number | null = null;
  const cpuTimer = setTimeout(() => {
    brokerCpuStart = pid > 0 ? cpuSeconds(pid) : null;
  }, options.warmup * 1000);
  let published = 0;
  let confirmedTotal = 0;
  const latenciesMs: number[] = [];
  const loop = async (connection: AmqpConnection) => {
    const channel = await openChannel(connection, "rabbitmq_topic", true);
    while (performance.now() < endMs) {
      const sentAt = performance.now();
      for (let index = 0; index < options.batch; index++) {
        channel.publish(exchange, "orders.eu.paid", body, { persistent: true });
      }
      await channel.waitForConfirms();
      const doneAt = performance.now();
      confirmedTotal += options.batch;
      if (sentAt >= measureFromMs && doneAt <= endMs) {
        published += options.batch;
        latenciesMs.push(doneAt - sentAt);
      }
    }
    await channel.close();
  };
  try {
    await Promise.all(
      connections.flatMap((connection) =>
        Array.from({ length: options.inflight }, () => loop(connection))
      ),
    );
    const brokerCpuEnd = pid > 0 ? cpuSeconds(pid) : null;
    const brokerCpu = brokerCpuStart === null || brokerCpuEnd === null
      ? null
      : brokerCpuEnd - brokerCpuStart;
    // Every confirmed message must be in all three queues (nothing is consumed).
    const depths = [];
    for (const queue of queues) depths.push((await adminChannel.checkQueue(queue)).messageCount);
    return {
      ...fanoutRow({
        system: "rabbitmq",
        options,
        published,
        latenciesMs,
        brokerCpuSeconds: brokerCpu,
      }),
      confirmed: confirmedTotal,
      queueDepths: depths,
    };
  } finally {
    clearTimeout(cpuTimer);
    for (const connection of connections) await connection.close().catch(() => {});
    for (const queue of queues) await adminChannel.deleteQueue(queue).catch(() => {});
    await adminChannel.deleteExchange(exchange).catch(() => {});
    await admin.close().catch(() => {});
  }
}

if (import.meta.main) {
  console.log(JSON.stringify(await run(parseOptions(Deno.args))));
}
