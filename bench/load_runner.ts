/**
 * The producer and consumer loops of the load generator. One `LoadRunner` drives the producers and
 * consumers assigned to one thread (the main isolate or a Worker); its counters live in a
 * `SharedArrayBuffer` so that the main thread reads live totals without messages, and its latency
 * samples come back when it stops.
 *
 * Message body layout: characters 0..22 are the send time (ms since the epoch, high resolution,
 * zero-padded), character 23 is `|`, the rest is padding up to the message size.
 *
 * @module
 */

import { type BenchClient, type ClientKind, createBenchClient } from "./bench_client.ts";
import { helperClient, helperConsumer, type HelperHooks, helperProducer } from "./load_helpers.ts";
import type { ReceivedMessage, SendMessageEntry } from "../sdk/mod.ts";

/**
 * How the consumers acknowledge: on the next receive, which then does not long-poll
 * (`piggyback`, what the SDK's Consumer does), on the next receive that long-polls as usual
 * (`piggyback-wait`: the deletes are committed at once, only their answer waits for the poll), or
 * with a delete call (`separate`).
 */
export type AckMode = "piggyback" | "piggyback-wait" | "separate";

/** Hand-written batch loops on the client (`raw`), or the SDK's Producer and Consumer. */
export type LoadApi = "raw" | "helpers";

/** What one runner does; plain data so it can be posted to a Worker. */
export interface RunnerPlan {
  url: string;
  queue: string;
  clientKind: ClientKind;
  /** Global indices of the producers and consumers this runner drives. */
  producers: number[];
  consumers: number[];
  /** Messages per send. */
  sendBatch: number;
  /** Most messages per receive. */
  receiveBatch: number;
  /** Body bytes (ASCII, so bytes = characters). */
  messageBytes: number;
  /** Requests in flight per producer (more when a rate needs them). */
  producerInflight: number;
  /** Receive loops per consumer, each with one request in flight. */
  consumerInflight: number;
  /** Messages per second over all this runner's producers; 0 = as fast as acknowledged. */
  ratePerSecond: number;
  /** Messages to send before the producers stop by themselves; 0 = until told to stop. */
  budget: number;
  ackMode: AckMode;
  visibilityTimeoutSeconds: number;
  waitSeconds: number;
  /** Default `raw`. */
  api?: LoadApi;
}

/** Slots of the control words in a runner group's shared buffer. */
export const control = { stopProducers: 0, stopConsumers: 1, latencyOn: 2 } as const;
const controlWords = 4;

/** Counters each runner keeps, one row of `counterNames.length` words per runner. */
export const counterNames = [
  "produced",
  "consumed",
  "errors",
  "sendRequests",
  "receiveRequests",
  "emptyReceives",
  "deleteFailures",
] as const;
/** A counter's name. */
export type CounterName = typeof counterNames[number];
const counterIndex = Object.fromEntries(counterNames.map((name, index) => [name, index])) as Record<
  CounterName,
  number
>;

/** The shared words of a group of runners: control flags, then one counter row per runner. */
export class SharedCounters {
  readonly buffer: SharedArrayBuffer;
  readonly words: Int32Array;
  readonly runners: number;

  constructor(runners: number, buffer?: SharedArrayBuffer) {
    this.runners = runners;
    this.buffer = buffer ??
      new SharedArrayBuffer(4 * (controlWords + runners * counterNames.length));
    this.words = new Int32Array(this.buffer);
  }

  flag(slot: number): boolean {
    return Atomics.load(this.words, slot) === 1;
  }

  setFlag(slot: number, on: boolean): void {
    Atomics.store(this.words, slot, on ? 1 : 0);
  }

  add(runner: number, name: CounterName, amount: number): void {
    Atomics.add(
      this.words,
      controlWords + runner * counterNames.length + counterIndex[name],
      amount,
    );
  }

  /** The sum of a counter over all runners. */
  total(name: CounterName): number {
    let sum = 0;
    for (let runner = 0; runner < this.runners; runner++) {
      sum += Atomics.load(
        this.words,
        controlWords + runner * counterNames.length + counterIndex[name],
      );
    }
    return sum;
  }
}

const stampChars = 23;

/** The send time carried by a body, or NaN. */
export function readStamp(body: string): number {
  return Number(body.slice(0, stampChars));
}

/** Milliseconds since the epoch with sub-millisecond resolution, comparable across isolates. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Builds `count` bodies of `messageBytes` carrying the send time now. */
export function makeBatch(count: number, padding: string): SendMessageEntry[] {
  const stamp = nowMs().toFixed(3).padStart(stampChars, "0") + "|";
  const messages: SendMessageEntry[] = [];
  for (let index = 0; index < count; index++) messages.push({ body: stamp + padding });
  return messages;
}

/** The padding that makes a stamped body `messageBytes` long. */
export function paddingFor(messageBytes: number): string {
  return "x".repeat(Math.max(0, messageBytes - stampChars - 1));
}

/** Latency samples in milliseconds, grown as needed up to `samplesMax`. */
export class LatencySamples {
  static readonly samplesMax = 50_000_000;
  values = new Float64Array(1 << 16);
  count = 0;

  add(value: number): void {
    if (this.count === this.values.length) {
      if (this.values.length >= LatencySamples.samplesMax) return;
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.count++] = value;
  }

  addAll(values: Float64Array): void {
    for (const value of values) this.add(value);
  }

  /** The p-th percentile (0..100), or null without samples. */
  percentile(p: number): number | null {
    if (this.count === 0) return null;
    const sorted = this.values.slice(0, this.count).sort();
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Drives one thread's producers and consumers until the shared flags say stop. */
export class LoadRunner {
  readonly samples = new LatencySamples();
  #plan: RunnerPlan;
  #shared: SharedCounters;
  #slot: number;
  #clients: { close(): void }[] = [];
  #budgetLeft: number;
  #padding: string;
  #ratedSent = 0;
  #rateStartMs = 0;

  constructor(plan: RunnerPlan, options: { shared: SharedCounters; slot: number }) {
    this.#plan = plan;
    this.#shared = options.shared;
    this.#slot = options.slot;
    this.#budgetLeft = plan.budget;
    this.#padding = paddingFor(plan.messageBytes);
  }

  /** Starts every loop; resolves the two promises when the producers and the consumers are done. */
  async start(): Promise<{ producersDone: Promise<void>; consumersDone: Promise<void> }> {
    if (this.#plan.api === "helpers") return this.#startHelpers();
    const producerClients = await this.#makeClients(this.#plan.producers.length);
    const consumerClients = await this.#makeClients(this.#plan.consumers.length);
    this.#rateStartMs = nowMs();
    const consumerLanes = consumerClients.flatMap((client) =>
      Array.from({ length: this.#plan.consumerInflight }, () => this.#consumerLane(client))
    );
    const producerLanes = producerClients.flatMap((client) =>
      Array.from({ length: this.#lanesPerProducer() }, () => this.#producerLane(client))
    );
    return {
      producersDone: Promise.all(producerLanes).then(() => {}),
      consumersDone: Promise.all(consumerLanes).then(() => {}),
    };
  }

  close(): void {
    for (const client of this.#clients) client.close();
  }

  #startHelpers(): { producersDone: Promise<void>; consumersDone: Promise<void> } {
    const hooks = this.#helperHooks();
    const lane = (run: typeof helperProducer) => {
      const client = helperClient(this.#plan.url);
      this.#clients.push(client);
      return run(client, this.#plan, hooks);
    };
    this.#rateStartMs = nowMs();
    const consumersDone = Promise.all(this.#plan.consumers.map(() => lane(helperConsumer)));
    const producersDone = Promise.all(this.#plan.producers.map(() => lane(helperProducer)));
    return {
      producersDone: producersDone.then(() => {}),
      consumersDone: consumersDone.then(() => {}),
    };
  }

  /** Bodies made for the helpers' next sends, and when. */
  #bodies: SendMessageEntry[] = [];
  #bodiesAt = 0;
  #helperHooks(): HelperHooks {
    return {
      stopProducers: () => this.#shared.flag(control.stopProducers),
      stopConsumers: () => this.#shared.flag(control.stopConsumers),
      take: async (count) => {
        const taken = this.#plan.budget === 0 ? count : Math.min(count, this.#budgetLeft);
        if (this.#plan.budget > 0) this.#budgetLeft -= taken;
        if (taken > 0) await this.#pace(taken);
        return taken;
      },
      giveBack: (count) => {
        if (this.#plan.budget > 0) this.#budgetLeft += count;
      },
      add: (name, amount) => this.#shared.add(this.#slot, name, amount),
      received: (body) => {
        if (this.#shared.flag(control.latencyOn)) this.samples.add(nowMs() - readStamp(body));
      },
      failed: (error) => this.#failed(error),
      // Bodies are made as the raw lanes make them, a batch's worth at once with one stamp: made
      // one by one (a stamp each), JSON.stringify of the same bytes took twice the CPU (profiled:
      // 9.5% vs 4.4% of the client), which was the harness's cost, not the SDK's. A bank older
      // than 0.1 ms is remade, so a stamp is never more than that older than its send().
      body: () => {
        const now = nowMs();
        if (this.#bodies.length === 0 || now - this.#bodiesAt > 0.1) {
          this.#bodiesAt = now;
          this.#bodies = makeBatch(this.#plan.sendBatch, this.#padding);
        }
        return this.#bodies.pop()!.body;
      },
    };
  }

  /** Waits until `count` more messages are due at the plan's rate (no wait without a rate). */
  async #pace(count: number): Promise<void> {
    const { ratePerSecond } = this.#plan;
    if (ratePerSecond <= 0) return;
    const dueMs = this.#rateStartMs + (this.#ratedSent / ratePerSecond) * 1000;
    this.#ratedSent += count;
    const waitMs = dueMs - nowMs();
    if (waitMs > 0) await sleep(waitMs);
  }

  async #makeClients(count: number): Promise<BenchClient[]> {
    const made: BenchClient[] = [];
    for (let index = 0; index < count; index++) {
      made.push(await createBenchClient(this.#plan.url, this.#plan.clientKind));
    }
    this.#clients.push(...made);
    return made;
  }

  /** A rate-limited producer needs enough lanes to keep its rate through a slow request. */
  #lanesPerProducer(): number {
    const rate = this.#plan.ratePerSecond;
    if (rate <= 0) return this.#plan.producerInflight;
    return Math.max(this.#plan.producerInflight, Math.ceil(rate / this.#plan.sendBatch / 50));
  }

  #takeBudget(): number {
    if (this.#plan.budget === 0) return this.#plan.sendBatch;
    const count = Math.min(this.#plan.sendBatch, this.#budgetLeft);
    this.#budgetLeft -= count;
    return count;
  }

  async #producerLane(client: BenchClient): Promise<void> {
    const { queue, ratePerSecond } = this.#plan;
    while (!this.#shared.flag(control.stopProducers)) {
      const count = this.#takeBudget();
      if (count === 0) break;
      if (ratePerSecond > 0) {
        const dueMs = this.#rateStartMs + (this.#ratedSent / ratePerSecond) * 1000;
        this.#ratedSent += count;
        const waitMs = dueMs - nowMs();
        if (waitMs > 0) await sleep(waitMs);
        if (this.#shared.flag(control.stopProducers)) break;
      }
      try {
        this.#shared.add(this.#slot, "sendRequests", 1);
        await client.sendMessages(queue, makeBatch(count, this.#padding));
        this.#shared.add(this.#slot, "produced", count);
      } catch (error) {
        this.#failed(error);
        if (this.#plan.budget > 0) this.#budgetLeft += count;
        await sleep(10);
      }
    }
  }

  #record(messages: ReceivedMessage[]): void {
    if (!this.#shared.flag(control.latencyOn)) return;
    const now = nowMs();
    for (const message of messages) this.samples.add(now - readStamp(message.body));
  }

  async #consumerLane(client: BenchClient): Promise<void> {
    const { queue, receiveBatch, visibilityTimeoutSeconds, ackMode } = this.#plan;
    let pending: string[] = [];
    while (!this.#shared.flag(control.stopConsumers)) {
      try {
        // Carrying handles, `piggyback` doesn't long-poll: the acknowledgement's answer would
        // wait for the poll to end.
        const quick = pending.length > 0 && ackMode === "piggyback";
        const response = await client.receiveMessages(queue, {
          maxMessages: receiveBatch,
          visibilityTimeoutSeconds,
          waitSeconds: quick ? 0 : this.#plan.waitSeconds,
          deleteReceiptHandles: pending.length > 0 ? pending : undefined,
        });
        this.#shared.add(this.#slot, "receiveRequests", 1);
        if (pending.length > 0) this.#acknowledged(response.deleted ?? 0, pending.length);
        pending = [];
        const { messages } = response;
        if (messages.length === 0) {
          this.#shared.add(this.#slot, "emptyReceives", 1);
          continue;
        }
        this.#record(messages);
        const handles = messages.map((message) => message.receiptHandle);
        if (ackMode !== "separate") pending = handles;
        else {
          const result = await client.deleteMessages(queue, handles);
          this.#acknowledged(result.deleted, handles.length);
        }
      } catch (error) {
        this.#failed(error);
        pending = [];
        await sleep(10);
      }
    }
    if (pending.length > 0) {
      try {
        const result = await client.deleteMessages(queue, pending);
        this.#acknowledged(result.deleted, pending.length);
      } catch (error) {
        this.#failed(error);
      }
    }
  }

  #acknowledged(deleted: number, asked: number): void {
    this.#shared.add(this.#slot, "consumed", deleted);
    if (deleted < asked) this.#shared.add(this.#slot, "deleteFailures", asked - deleted);
  }

  #failed(error: unknown): void {
    this.#shared.add(this.#slot, "errors", 1);
    if (this.#shared.total("errors") <= 5) {
      console.error(`load: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
