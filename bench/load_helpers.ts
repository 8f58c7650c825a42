/**
 * The `--api helpers` lanes of the load generator: the same producers and consumers as the raw
 * lanes of `load_runner.ts`, but through the SDK's `Producer` (concurrent single-message sends
 * it coalesces into batches) and `Consumer` (handlers with piggybacked deletes), so that a run
 * of `--api raw,helpers` shows what the helpers cost against hand-written batch loops.
 *
 * A producer keeps `sendBatch × producerInflight` sends pending, enough to fill
 * `producerInflight` batches of `sendBatch`. A consumer is `consumerInflight` Consumers, each
 * with `receiveBatch` handler slots (one receive loop each, as in raw mode). A message counts as produced when its
 * send resolved and as consumed when the Consumer's delete of it was answered (its `deleted`
 * counter), as in raw mode. The Consumer does not count its receive requests, so a helpers
 * row's `requestsPerSec` counts send batches only.
 *
 * @module
 */

import { CmqdClient, Consumer, Producer } from "../sdk/mod.ts";
import type { CounterName, RunnerPlan } from "./load_runner.ts";

/** What a helper lane needs of its runner. */
export interface HelperHooks {
  stopProducers(): boolean;
  stopConsumers(): boolean;
  /** Messages this lane may send now (0 = budget used up), after rate pacing. */
  take(count: number): Promise<number>;
  /** Gives back budget of a send that failed. */
  giveBack(count: number): void;
  add(name: CounterName, amount: number): void;
  /** Records a message's latency (ignored while recording is off). */
  received(body: string): void;
  failed(error: unknown): void;
  /** A stamped body (send time in its first characters). */
  body(): string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** How often a consumer lane looks at its stop flag and publishes its delete count. */
const pollMs = 20;

/**
 * A new SDK client of `url`. In Deno its requests go through the isolate's shared `fetch` pool
 * (the raw lanes each make their own `Deno.createHttpClient`); either way a request in flight has a
 * connection of its own, so the pools differ in reuse, not in parallelism.
 */
export function helperClient(url: string): CmqdClient {
  return new CmqdClient({ baseUrl: url });
}

/** One producer through `Producer`; resolves when told to stop or out of budget. */
export async function helperProducer(
  client: CmqdClient,
  plan: RunnerPlan,
  hooks: HelperHooks,
): Promise<void> {
  const senders = plan.sendBatch * plan.producerInflight;
  const producer = new Producer(client, plan.queue, {
    batchSize: plan.sendBatch,
    inflightBatchesMax: plan.producerInflight,
    pendingSendsMax: Math.max(senders, 1),
    lingerMs: 1,
  });
  let batchesSeen = 0;
  const sender = async () => {
    while (!hooks.stopProducers()) {
      if ((await hooks.take(1)) === 0) break;
      try {
        await producer.send(hooks.body());
        hooks.add("produced", 1);
      } catch (error) {
        hooks.failed(error);
        hooks.giveBack(1);
        await sleep(10);
      }
      const batches = producer.stats.batches;
      hooks.add("sendRequests", batches - batchesSeen);
      batchesSeen = batches;
    }
  };
  await Promise.all(Array.from({ length: senders }, sender));
  await producer.close().catch((error) => hooks.failed(error));
}

/**
 * One consumer through a `Consumer`; resolves once told to stop and stopped. The raw mode's
 * `consumerInflight` receive loops of `receiveBatch` are one Consumer here with that many
 * receives in flight (`receivesInFlight`) and `receiveBatch` handler slots for each.
 */
export async function helperConsumer(
  client: CmqdClient,
  plan: RunnerPlan,
  hooks: HelperHooks,
): Promise<void> {
  const consumers = [
    new Consumer(client, plan.queue, {
      concurrency: plan.receiveBatch * plan.consumerInflight,
      batchSize: plan.receiveBatch,
      receivesInFlight: plan.consumerInflight,
      visibilityTimeoutSeconds: plan.visibilityTimeoutSeconds,
      waitSeconds: plan.waitSeconds,
      handleMessage: (message) => hooks.received(message.body),
      onError: (error) => hooks.failed(error),
    }),
  ];
  let deletedSeen = 0;
  const publish = () => {
    const deleted = consumers.reduce((sum, consumer) => sum + consumer.stats.deleted, 0);
    hooks.add("consumed", deleted - deletedSeen);
    deletedSeen = deleted;
  };
  for (const consumer of consumers) consumer.start();
  while (!hooks.stopConsumers()) {
    await sleep(pollMs);
    publish();
  }
  await Promise.all(consumers.map((consumer) => consumer.stop()));
  publish();
}
