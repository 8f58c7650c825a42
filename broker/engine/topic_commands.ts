/**
 * Codecs of the topic commands (payloads of log entries with a topic `CommandType`). Built from
 * the engine's own types only: this file is part of the on-disk format.
 *
 * Binary layouts (little-endian, see `binary.ts`), each starting with a `u8` layout version (1;
 * PushResults 2, also read in layout 1):
 *
 * - **PublishBatch**: `version, u16 len + topic, u16 count, u32 offsets[count + 1]` (absolute
 *   offsets of each message record; the last one is the payload length), then per message:
 *   `u8 flags (1 tags, 2 routingKey, 4 attributes), [u8 n, n × (u16 len + tag)],
 *   [u16 len + routingKey], [u8 n, n × (u16 len + key, u16 len + value)], u32 bodyLength, body`
 *   (UTF-8). As with SendBatch, the offset table lets a reader decode message k alone: a queue
 *   that got a copy of message k points at (entry index, k), and a pending HTTP push does too.
 * - **PushResults**: `version (2, or 1: the earlier form), u16 count`, then per outcome:
 *   `u16 len + topic, u16 len + subscription, f64 subscription incarnation, f64 message sequence
 *   (in the topic), u32 attempt (the attempt count when the push started), u8 ok (1 success,
 *   0 failure), u16 len + error` (empty on success). The layouts differ in what a failure means
 *   when the next try would fall past the message's retry window: from layout 2 on one final
 *   try comes shortly before the window ends (`finalTry`); in layout 1 the message is given up
 *   then (`push_state.ts`). A release that reads layout 1 only refuses layout 2.
 *
 * The admin commands (CreateTopic, UpdateTopic, DeleteTopic, Subscribe, UpdateSubscription,
 * Unsubscribe) are JSON objects in UTF-8, like the queue admin commands.
 *
 * Every decoder throws `DecodeError` on a truncated or garbage payload, and `NewerLayoutError`
 * (`release.ts`) on a layout version above the ones this release writes; never anything else.
 *
 * @module
 */
import { ByteReader, ByteWriter, DecodeError } from "./binary.ts";
import { decodeJsonObject, encodeJson, type StoredMessage } from "./commands.ts";
import { layoutVersionError } from "./release.ts";
import type {
  SubscriptionAttributesInput,
  TopicAttributes,
  TopicAttributesInput,
} from "./types.ts";

const layoutVersion = 1;
/** The layout versions of a PushResults: 2 with a final try before the window ends (written). */
export const pushResultsVersion = 2;
const flagTags = 1;
const flagRoutingKey = 2;
const flagAttributes = 4;

/** One message of a PublishBatch command (already validated by the service). */
export interface PublishCommandMessage {
  body: string;
  tags?: string[];
  routingKey?: string;
  attributes?: Record<string, string>;
}

/** PublishBatch command. */
export interface PublishBatchCommand {
  topic: string;
  messages: PublishCommandMessage[];
}

/** What apply needs of a published message: its route and body size, not the body. */
export interface PublishHeader {
  tags?: string[];
  routingKey?: string;
  bodyBytes: number;
}

/** One outcome of an HTTP push attempt. */
export interface PushOutcome {
  topic: string;
  subscription: string;
  /** The incarnation of the subscription the push was for (a recreated one ignores it). */
  subscriptionIncarnation: number;
  /** The message's sequence in its topic. */
  sequence: number;
  /** The pending push's attempt count when this attempt started (stale outcomes are ignored). */
  attempt: number;
  ok: boolean;
  /** Why it failed (empty on success). */
  error: string;
}

/** A decoded PushResults command: its outcomes, and the rule its layout means (`finalTry`). */
export interface PushResultsCommand {
  outcomes: PushOutcome[];
  /** Layout 2 on: a failure whose next try falls past the window gets one final try before. */
  finalTry: boolean;
}

/** CreateTopic command: attributes resolved with defaults. */
export interface CreateTopicCommand {
  topic: string;
  attributes: TopicAttributes;
}

/** UpdateTopic command: only the attributes to change. */
export interface UpdateTopicCommand {
  topic: string;
  attributes: TopicAttributesInput;
}

/** DeleteTopic command. */
export interface TopicCommand {
  topic: string;
}

/** Subscribe and UpdateSubscription commands (`attributes` as the request gave them). */
export interface SubscriptionCommand {
  topic: string;
  subscription: string;
  attributes?: SubscriptionAttributesInput;
}

/** Encodes an admin topic command as JSON. */
export function encodeTopicCommand(
  command: CreateTopicCommand | UpdateTopicCommand | TopicCommand | SubscriptionCommand,
): Uint8Array {
  return encodeJson(command);
}

/** Decodes an admin topic command: a JSON object whose `topic` is a string. */
export function decodeTopicCommand(payload: Uint8Array): Record<string, unknown> & TopicCommand {
  const record = decodeJsonObject(payload);
  if (typeof record.topic !== "string") throw new DecodeError("topic is not a string");
  return record as Record<string, unknown> & TopicCommand;
}

/** Decodes a subscription command: `topic` and `subscription` are strings. */
export function decodeSubscriptionCommand(
  payload: Uint8Array,
): Record<string, unknown> & SubscriptionCommand {
  const record = decodeTopicCommand(payload);
  if (typeof record.subscription !== "string") {
    throw new DecodeError("subscription is not a string");
  }
  return record as Record<string, unknown> & SubscriptionCommand;
}

/** Encodes a PublishBatch. */
export function encodePublishBatch(command: PublishBatchCommand): Uint8Array {
  const writer = new ByteWriter(64 + command.messages.length * 48);
  writer.u8(layoutVersion);
  writer.string16(command.topic);
  writer.u16(command.messages.length);
  const tableAt = writer.length;
  for (let index = 0; index <= command.messages.length; index++) writer.u32(0);
  command.messages.forEach((message, index) => {
    writer.patchU32(tableAt + index * 4, writer.length);
    writePublishRecord(writer, message);
  });
  writer.patchU32(tableAt + command.messages.length * 4, writer.length);
  return writer.finish();
}

function writePublishRecord(writer: ByteWriter, message: PublishCommandMessage): void {
  const flags = (message.tags !== undefined ? flagTags : 0) |
    (message.routingKey !== undefined ? flagRoutingKey : 0) |
    (message.attributes !== undefined ? flagAttributes : 0);
  writer.u8(flags);
  if (message.tags !== undefined) {
    writer.u8(message.tags.length);
    for (const tag of message.tags) writer.string16(tag);
  }
  if (message.routingKey !== undefined) writer.string16(message.routingKey);
  if (message.attributes !== undefined) {
    const attributes = Object.entries(message.attributes);
    writer.u8(attributes.length);
    for (const [key, value] of attributes) {
      writer.string16(key);
      writer.string16(value);
    }
  }
  writer.string32(message.body);
}

interface PublishTable {
  topic: string;
  offsets: number[];
}

function readPublishTable(payload: Uint8Array): PublishTable {
  const reader = new ByteReader(payload);
  const version = reader.u8();
  if (version !== layoutVersion) throw layoutVersionError(version, layoutVersion);
  const topic = reader.string16();
  const count = reader.u16();
  const offsets: number[] = [];
  for (let index = 0; index <= count; index++) offsets.push(reader.u32());
  let previous = reader.offset;
  for (const offset of offsets) {
    if (offset < previous) throw new DecodeError("offsets not ascending");
    previous = offset;
  }
  if (offsets[count] !== payload.length) throw new DecodeError("offset table does not end");
  return { topic, offsets };
}

/** Every field of one published message; the body as its position in the payload. */
export interface PublishRecord extends PublishHeader {
  attributes?: Record<string, string>;
  bodyAt: number;
}

function readPublishRecord(
  payload: Uint8Array,
  range: { from: number; to: number },
  full: boolean,
): PublishRecord {
  const reader = new ByteReader(payload, range.from, range.to);
  const flags = reader.u8();
  if (flags & ~(flagTags | flagRoutingKey | flagAttributes)) {
    throw new DecodeError("unknown flags");
  }
  const record: PublishRecord = { bodyBytes: 0, bodyAt: 0 };
  if (flags & flagTags) {
    const count = reader.u8();
    const tags: string[] = [];
    for (let index = 0; index < count; index++) tags.push(reader.string16());
    record.tags = tags;
  }
  if (flags & flagRoutingKey) record.routingKey = reader.string16();
  if (flags & flagAttributes) {
    const count = reader.u8();
    const attributes: [string, string][] = [];
    for (let index = 0; index < count; index++) {
      if (full) attributes.push([reader.string16(), reader.string16()]);
      else {
        reader.skip(reader.u16());
        reader.skip(reader.u16());
      }
    }
    // fromEntries defines own properties, so a key like "__proto__" stays data.
    if (full) record.attributes = Object.fromEntries(attributes);
  }
  record.bodyBytes = reader.u32();
  record.bodyAt = reader.offset;
  reader.skip(record.bodyBytes);
  reader.end();
  return record;
}

/** Decodes what apply needs of a PublishBatch (routes and sizes; no body text). */
export function decodePublishHeaders(
  payload: Uint8Array,
): { topic: string; messages: PublishHeader[] } {
  const table = readPublishTable(payload);
  const messages: PublishHeader[] = [];
  for (let index = 0; index + 1 < table.offsets.length; index++) {
    const range = { from: table.offsets[index], to: table.offsets[index + 1] };
    const record = readPublishRecord(payload, range, false);
    const header: PublishHeader = { bodyBytes: record.bodyBytes };
    if (record.tags !== undefined) header.tags = record.tags;
    if (record.routingKey !== undefined) header.routingKey = record.routingKey;
    messages.push(header);
  }
  return { topic: table.topic, messages };
}

/**
 * Reads messages out of one PublishBatch payload, for a queue receive (a copy points here) or an
 * HTTP push; the table is parsed once however many slots are read.
 *
 * @example
 * ```ts
 * const reader = new PublishedMessageReader(log.entry(index).payload);
 * const { bodyBytes, tags } = reader.record(slot);
 * ```
 */
export class PublishedMessageReader {
  readonly #payload: Uint8Array;
  readonly #table: PublishTable;

  constructor(payload: Uint8Array) {
    this.#payload = payload;
    this.#table = readPublishTable(payload);
  }

  /** The topic the entry was published to. */
  get topic(): string {
    return this.#table.topic;
  }

  /** Message `slot` as a queue receive needs it. */
  message(slot: number): StoredMessage {
    const record = this.record(slot);
    const message: StoredMessage = { bodyBytes: this.body(record) };
    if (record.attributes !== undefined) message.attributes = record.attributes;
    return message;
  }

  /** The UTF-8 body bytes of a record (a view into the payload). */
  body(record: PublishRecord): Uint8Array {
    return this.#payload.subarray(record.bodyAt, record.bodyAt + record.bodyBytes);
  }

  /** Every field of message `slot`. */
  record(slot: number): PublishRecord {
    const offsets = this.#table.offsets;
    if (!Number.isInteger(slot) || slot < 0 || slot + 1 >= offsets.length) {
      throw new DecodeError(`no message ${slot} in this entry`);
    }
    return readPublishRecord(this.#payload, { from: offsets[slot], to: offsets[slot + 1] }, true);
  }
}

/** Encodes a PushResults command (layout 2: with a final try before the window ends). */
export function encodePushResults(outcomes: readonly PushOutcome[]): Uint8Array {
  const writer = new ByteWriter(16 + outcomes.length * 64);
  writer.u8(pushResultsVersion);
  writer.u16(outcomes.length);
  for (const outcome of outcomes) {
    writer.string16(outcome.topic);
    writer.string16(outcome.subscription);
    writer.f64(outcome.subscriptionIncarnation);
    writer.f64(outcome.sequence);
    writer.u32(outcome.attempt);
    writer.u8(outcome.ok ? 1 : 0);
    writer.string16(outcome.error);
  }
  return writer.finish();
}

/** Decodes a PushResults command (layout 2, or 1: the earlier form). */
export function decodePushResults(payload: Uint8Array): PushResultsCommand {
  const reader = new ByteReader(payload);
  const version = reader.u8();
  if (version < layoutVersion || version > pushResultsVersion) {
    throw layoutVersionError(version, pushResultsVersion);
  }
  const count = reader.u16();
  const outcomes: PushOutcome[] = [];
  for (let index = 0; index < count; index++) {
    const topic = reader.string16();
    const subscription = reader.string16();
    const subscriptionIncarnation = reader.uint();
    const sequence = reader.uint();
    const attempt = reader.u32();
    const ok = reader.u8();
    if (ok > 1) throw new DecodeError("ok is not 0 or 1");
    const error = reader.string16();
    outcomes.push({
      topic,
      subscription,
      subscriptionIncarnation,
      sequence,
      attempt,
      ok: ok === 1,
      error,
    });
  }
  reader.end();
  return { outcomes, finalTry: version >= pushResultsVersion };
}
