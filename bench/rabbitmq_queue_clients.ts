/**
 * The AMQP clients of `rabbitmq_queue.ts`: a producer (one connection, one confirm channel
 * publishing under a sliding window of unconfirmed publishes, optionally paced at a rate), a
 * consumer (one connection, one channel under a prefetch, acking every message), and the admin
 * connection that declares, measures and deletes the quorum queues; with the window and rate
 * accounting they run on, as pure classes.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import {
  type AmqpChannel,
  type AmqpConfirmChannel,
  type AmqpConnection,
  connectAmqp,
  errorText,
  openChannel,
} from "./amqp_client.ts";
import type { LatencySamples } from "./load_runner.ts";

/** Messages left to publish, shared by the producers of a prefill. */
export interface Budget {
  left: number;
}

/**
 * One producer's sliding window of unconfirmed publishes: `take` before each publish (false when
 * the window is full or the budget spent), `settle` on its confirm. A nack gives its message back
 * to the budget, so a prefill still publishes its count.
 */
export class PublishWindow {
  inFlight = 0;
  confirmed = 0;
  failed = 0;

  constructor(readonly limit: number, readonly budget: Budget | null = null) {}

  take(): boolean {
    if (this.inFlight >= this.limit) return false;
    if (this.budget !== null) {
      if (this.budget.left <= 0) return false;
      this.budget.left--;
    }
    this.inFlight++;
    return true;
  }

  settle(confirmed: boolean): void {
    this.inFlight--;
    if (confirmed) this.confirmed++;
    else {
      this.failed++;
      if (this.budget !== null) this.budget.left++;
    }
  }

  /** True when a budget is spent and every publish of this window answered. */
  get spent(): boolean {
    return this.budget !== null && this.budget.left <= 0 && this.inFlight === 0;
  }
}

/**
 * Paces publishes at `ratePerSecond` from `startMs` (0 or less: no pacing). Message n is due
 * n / rate seconds after the start, so a late timer sends the ones it missed at once and the count
 * stays on the rate.
 */
export class RatePacer {
  sent = 0;

  constructor(readonly ratePerSecond: number, readonly startMs: number) {}

  get paced(): boolean {
    return this.ratePerSecond > 0;
  }

  /** When the next message is due (ms, the clock of `startMs`). */
  nextDueMs(): number {
    return this.startMs + (this.sent * 1000) / this.ratePerSecond;
  }

  due(nowMs: number): boolean {
    return !this.paced || this.nextDueMs() <= nowMs;
  }
}

/** A copy of `template` carrying `sentMs` in its first 8 bytes. */
export function stampedBody(template: Buffer, sentMs: number): Buffer {
  const body = Buffer.allocUnsafe(template.length);
  template.copy(body);
  body.writeDoubleLE(sentMs, 0);
  return body;
}

/** The send time a body carries, or NaN. */
export function sendTimeOf(content: Buffer): number {
  return content.length < 8 ? NaN : content.readDoubleLE(0);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves when `promise` does or after `ms`, whichever is first (the timer is cleared). */
export async function bounded(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([promise, new Promise((resolve) => timer = setTimeout(resolve, ms))]);
  clearTimeout(timer);
}

/** Counts failures and logs the first few. */
export class Failures {
  count = 0;
  report = (error: unknown): void => {
    if (++this.count <= 5) console.error(`rabbitmq_queue: ${errorText(error)}`);
  };
}

/** Where latency samples go while the window is open. */
export interface Recorder {
  on: boolean;
  samples: LatencySamples;
}

const persistent = { persistent: true };

/** A connection with one confirm channel publishing under a window (and maybe a rate). */
export class Producer {
  readonly window: PublishWindow;
  #pacer: RatePacer;
  #stopped = false;
  #closed = false;
  #blocked = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #waiters: (() => void)[] = [];

  private constructor(
    readonly connection: AmqpConnection,
    readonly channel: AmqpConfirmChannel,
    readonly plan: { queue: string; template: Buffer; failures: Failures },
    shape: { window: number; budget: Budget | null; ratePerSecond: number },
  ) {
    this.window = new PublishWindow(shape.window, shape.budget);
    this.#pacer = new RatePacer(shape.ratePerSecond, performance.now());
    channel.on("close", () => {
      this.#closed = true;
      this.#check();
    });
  }

  static async open(
    url: string,
    plan: Producer["plan"],
    shape: { window: number; budget: Budget | null; ratePerSecond: number },
  ): Promise<Producer> {
    const connection = await connectAmqp(url, "rabbitmq_queue producer");
    try {
      const channel = await openChannel(connection, "rabbitmq_queue producer", true);
      return new Producer(connection, channel, plan, shape);
    } catch (error) {
      await connection.close().catch(() => {});
      throw error;
    }
  }

  start(): void {
    this.#pacer = new RatePacer(this.#pacer.ratePerSecond, performance.now());
    this.#pump();
  }

  #confirmed = (error: Error | null): void => {
    this.window.settle(error === null);
    if (error !== null && !this.#stopped) this.plan.failures.report(error);
    this.#pump();
    this.#check();
  };

  /** Publishes while the window, the budget and the rate allow. */
  #pump(): void {
    if (this.#stopped || this.#closed || this.#blocked) return;
    const now = performance.now();
    while (this.#pacer.due(now) && this.window.take()) {
      this.#pacer.sent++;
      let writable: boolean;
      try {
        const body = stampedBody(this.plan.template, performance.now());
        writable = this.channel.sendToQueue(this.plan.queue, body, persistent, this.#confirmed);
      } catch (error) {
        // A closed channel throws without ever calling the confirm callback.
        this.window.settle(false);
        this.plan.failures.report(error);
        this.#stopped = true;
        this.#check();
        return;
      }
      if (!writable) {
        this.#blocked = true;
        this.channel.once("drain", () => {
          this.#blocked = false;
          this.#pump();
        });
        return;
      }
    }
    if (this.#pacer.paced && this.#timer === undefined && !this.#pacer.due(now)) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#pump();
      }, Math.max(0, this.#pacer.nextDueMs() - performance.now()));
    }
  }

  /** Resolves the waiters once nothing is in flight and nothing more will be published. */
  #check(): void {
    const done = this.#closed ||
      (this.window.inFlight === 0 && (this.#stopped || this.window.spent));
    if (!done) return;
    for (const resolve of this.#waiters.splice(0)) resolve();
  }

  /** Resolves when this producer is stopped (or its budget spent) and every publish answered. */
  settled(): Promise<void> {
    const promise = new Promise<void>((resolve) => this.#waiters.push(resolve));
    this.#check();
    return promise;
  }

  /** Stops publishing, waits (up to 10 s) for the confirms in flight, closes the connection. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await bounded(this.settled(), 10_000);
    await this.close();
  }

  async close(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    if (!this.#closed) await this.channel.close().catch(() => {});
    await this.connection.close().catch(() => {});
  }
}

/** A connection with one channel consuming under a prefetch, acking every message. */
export class Consumer {
  consumed = 0;

  private constructor(readonly connection: AmqpConnection, readonly channel: AmqpChannel) {}

  static async open(
    url: string,
    plan: { queue: string; prefetch: number; recorder: Recorder | null },
  ): Promise<Consumer> {
    const connection = await connectAmqp(url, "rabbitmq_queue consumer");
    try {
      const channel = await openChannel(connection, "rabbitmq_queue consumer");
      await channel.prefetch(plan.prefetch);
      const consumer = new Consumer(connection, channel);
      const { recorder } = plan;
      await channel.consume(plan.queue, (message) => {
        if (message === null) return; // cancelled by the broker
        if (recorder?.on) {
          recorder.samples.add(performance.now() - sendTimeOf(message.content));
        }
        channel.ack(message);
        consumer.consumed++;
      }, { noAck: false });
      return consumer;
    } catch (error) {
      await connection.close().catch(() => {});
      throw error;
    }
  }

  /** Closes the channel (the broker requeues what is unacknowledged) and the connection. */
  async close(): Promise<void> {
    await this.channel.close().catch(() => {});
    await this.connection.close().catch(() => {});
  }
}

/** The admin connection: declares, measures and deletes the shapes' queues. */
export class Admin {
  #channel: AmqpChannel | null = null;

  private constructor(readonly connection: AmqpConnection) {}

  static async open(url: string): Promise<Admin> {
    return new Admin(await connectAmqp(url, "rabbitmq_queue admin"));
  }

  /** The admin channel, reopened after a channel error closed it. */
  async #use(): Promise<AmqpChannel> {
    if (this.#channel === null) {
      const channel = await openChannel(this.connection, "rabbitmq_queue admin");
      channel.on("close", () => {
        if (this.#channel === channel) this.#channel = null;
      });
      this.#channel = channel;
    }
    return this.#channel;
  }

  /**
   * Declares a durable quorum queue. A cluster just started may answer `cluster_not_formed`
   * (a known startup race): that is retried, up to 10 times a second apart.
   */
  async declare(queue: string, replicas: number): Promise<void> {
    const options = {
      durable: true,
      arguments: { "x-queue-type": "quorum", "x-quorum-initial-group-size": replicas },
    };
    for (let attempt = 1;; attempt++) {
      try {
        await (await this.#use()).assertQueue(queue, options);
        return;
      } catch (error) {
        if (!/cluster_not_formed/i.test(errorText(error)) || attempt >= 10) throw error;
        console.error(`rabbitmq_queue: declaring ${queue}: cluster_not_formed; retry ${attempt}`);
        this.#channel = null;
        await sleep(1000);
      }
    }
  }

  /** The queue's ready messages, or null when it can't be read. */
  async depth(queue: string): Promise<number | null> {
    try {
      return (await (await this.#use()).checkQueue(queue)).messageCount;
    } catch (error) {
      console.error(`rabbitmq_queue: could not read the depth of ${queue}: ${errorText(error)}`);
      return null;
    }
  }

  /** Deletes a shape's queue; a failure here must not lose the figure already measured. */
  async drop(queue: string): Promise<void> {
    try {
      await (await this.#use()).deleteQueue(queue);
    } catch (error) {
      console.error(`rabbitmq_queue: could not delete queue ${queue}: ${errorText(error)}`);
    }
  }

  async close(): Promise<void> {
    if (this.#channel !== null) await this.#channel.close().catch(() => {});
    await this.connection.close().catch(() => {});
  }
}
