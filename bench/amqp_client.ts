/**
 * The part of amqplib (`npm:amqplib@0.10.9`, a bench-only import) the RabbitMQ bench scripts use
 * (`rabbitmq_topic.ts`, `rabbitmq_queue.ts`), typed here since the package ships no types, and a
 * connect that logs the errors amqplib emits as events (an `error` event nobody listens to would
 * throw out of amqplib's frame handler and end the process).
 *
 * @module
 */
import amqplib from "amqplib";
import type { Buffer } from "node:buffer";

/** A delivered message (the fields used). */
export interface AmqpMessage {
  content: Buffer;
  fields: { deliveryTag: number };
}

/** Queue arguments and flags of a declaration. */
export interface AmqpQueueOptions {
  durable: boolean;
  arguments: Record<string, unknown>;
}

/** A channel of amqplib's promise API. */
export interface AmqpChannel {
  assertExchange(name: string, type: string, options: { durable: boolean }): Promise<unknown>;
  assertQueue(name: string, options: AmqpQueueOptions): Promise<unknown>;
  bindQueue(queue: string, exchange: string, pattern: string): Promise<unknown>;
  /** `messageCount` counts the ready messages (not the delivered, unacknowledged ones). */
  checkQueue(queue: string): Promise<{ messageCount: number }>;
  deleteQueue(queue: string): Promise<unknown>;
  deleteExchange(exchange: string): Promise<unknown>;
  /** basic.qos: unacknowledged deliveries per consumer. */
  prefetch(count: number): Promise<unknown>;
  /** `onMessage` gets null when the broker cancels the consumer (e.g. the queue was deleted). */
  consume(
    queue: string,
    onMessage: (message: AmqpMessage | null) => void,
    options: { noAck: boolean },
  ): Promise<{ consumerTag: string }>;
  ack(message: AmqpMessage): void;
  on(event: "error" | "close", listener: (error?: unknown) => void): unknown;
  /** `drain`: the connection's write buffer emptied after a publish answered false. */
  once(event: "drain", listener: () => void): unknown;
  close(): Promise<void>;
}

/** What a publish carries besides its body. */
export interface AmqpPublishOptions {
  persistent: boolean;
}

/** A channel in confirm mode: each publish takes a callback, called with null on ack. */
export interface AmqpConfirmChannel extends AmqpChannel {
  /** False when the write buffer is full (the message is still sent; wait for `drain`). */
  publish(
    exchange: string,
    routingKey: string,
    content: Buffer,
    options: AmqpPublishOptions,
    confirmed?: (error: Error | null) => void,
  ): boolean;
  sendToQueue(
    queue: string,
    content: Buffer,
    options: AmqpPublishOptions,
    confirmed?: (error: Error | null) => void,
  ): boolean;
  waitForConfirms(): Promise<void>;
}

/** A connection (amqplib's ChannelModel). */
export interface AmqpConnection {
  createChannel(): Promise<AmqpChannel>;
  createConfirmChannel(): Promise<AmqpConfirmChannel>;
  on(
    event: "error" | "close" | "blocked" | "unblocked",
    listener: (arg?: unknown) => void,
  ): unknown;
  close(): Promise<void>;
}

const amqp = amqplib as unknown as { connect(url: string): Promise<AmqpConnection> };

/** An error's message, whatever was thrown. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Connects to `url`, logging the connection's errors and flow-control blocks to stderr. */
export async function connectAmqp(url: string, label: string): Promise<AmqpConnection> {
  const connection = await amqp.connect(url);
  connection.on(
    "error",
    (error) => console.error(`${label}: connection error: ${errorText(error)}`),
  );
  connection.on(
    "blocked",
    (reason) => console.error(`${label}: ${url} blocks publishes: ${reason}`),
  );
  return connection;
}

/** Opens a channel (a confirm channel with `confirm`) whose errors are logged, not thrown. */
export async function openChannel(
  connection: AmqpConnection,
  label: string,
): Promise<AmqpChannel>;
export async function openChannel(
  connection: AmqpConnection,
  label: string,
  confirm: true,
): Promise<AmqpConfirmChannel>;
export async function openChannel(
  connection: AmqpConnection,
  label: string,
  confirm = false,
): Promise<AmqpChannel> {
  const channel = confirm
    ? await connection.createConfirmChannel()
    : await connection.createChannel();
  channel.on("error", (error) => console.error(`${label}: channel error: ${errorText(error)}`));
  return channel;
}

/** The URLs of a comma list (a cluster's nodes), at least one. */
export function urlList(urls: string): string[] {
  const list = urls.split(",").map((url) => url.trim()).filter((url) => url !== "");
  if (list.length === 0) throw new Error("--url names no AMQP URL");
  for (const url of list) {
    if (!/^amqps?:\/\//.test(url)) throw new Error(`--url: '${url}' is not an amqp:// URL`);
  }
  return list;
}
