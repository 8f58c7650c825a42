/**
 * Codecs of the queue engine's commands (the payloads of log entries with a `CommandType`).
 *
 * The hot commands are binary (little-endian, see `binary.ts`); every one starts with a `u8`
 * layout version (1) and the queue name as `u16 length + UTF-8`:
 *
 * - **SendBatch**: `version, queue, u16 count, u32 offsets[count + 1]` (absolute offsets of
 *   each message record in the payload; the last one is the payload length), then the records:
 *   `u16 delaySeconds, u8 flags (1 groupId, 2 dedupId, 4 attributes),
 *   [u16 len + groupId], [u16 len + dedupId], [u8 n, n × (u16 len + key, u16 len + value)],
 *   u32 bodyLength, body` (UTF-8). The offset table lets a reader decode message k of an entry
 *   without touching the others.
 * - **SendReceive**: the SendBatch layout with version 5 (or 2 to 4, earlier forms), whose offset
 *   table ends where the records end, followed by the receives it runs after the send:
 *   `u16 n, n × (u16 maxMessages, u32 visibilityTimeoutSeconds)` (0 = the queue's default). A
 *   reader of message bodies reads every layout alike.
 * - **ReceiveBatch**, **DeleteBatch**, **ChangeVisibility** (the commands that carry receipt
 *   handles): `handle_commands.ts`.
 *
 * A receive (ReceiveBatch, SendReceive) first runs the queue's housekeeping, whose dead-letter
 * TTL moves a FIFO group's messages in send order from ReceiveBatch layout 2 and SendReceive
 * layout 3 on (`inGroupOrder`), and whose retention keeps a FIFO queue's message in flight until
 * its lock ends from ReceiveBatch layout 3 and SendReceive layout 4 on (`keepsLocks`). From
 * ReceiveBatch layout 4 and SendReceive layout 5 on (`boundsAnswer`), apply keeps each receive's
 * answer to `messageLimits.receiveBodyBytesMax` of bodies by the queue as it is then (the leader
 * cut `maxMessages` to it when it wrote the entry, by the queue as it was then). Each earlier
 * layout keeps its earlier meaning (layout 1 and 2: only messages in flight wait for the TTL; up
 * to layouts 2 and 3: retention drops messages in flight too; up to layouts 3 and 4: as many as
 * `maxMessages`), so replicas that apply one log agree, and a release that does not know the
 * newer layout refuses it.
 *
 * The admin commands (CreateQueue, UpdateQueue, DeleteQueue, Rewind, Purge, Redrive and their
 * newer types) are JSON objects in UTF-8; Tick (and TickInGroupOrder) has an empty payload.
 *
 * Every decoder throws `DecodeError` on a truncated or garbage payload, and `NewerLayoutError`
 * (`release.ts`) on a layout version above the ones this release writes; never anything else.
 *
 * @module
 */
import { ByteReader, ByteWriter, DecodeError, fromUtf8, utf8 } from "./binary.ts";
import { invalidParameter } from "./errors.ts";
import { invariant } from "./invariant.ts";
import { messageLimits } from "./limits.ts";
import { layoutVersionError } from "./release.ts";
import type { ReceiveLayout } from "./handle_commands.ts";
import type { QueueAttributes, QueueAttributesInput, TagChanges } from "./types.ts";

export { CommandType, type CommandTypeCode } from "./types.ts";
export {
  type ChangeVisibilityCommand,
  decodeChangeVisibility,
  decodeDeleteBatch,
  decodeReceiveBatch,
  type DeleteBatchCommand,
  encodeChangeVisibility,
  encodeDeleteBatch,
  encodeReceiveBatch,
  type ReceiveBatchCommand,
  type ReceiveLayout,
} from "./handle_commands.ts";

const layoutVersion = 1;
/**
 * The layout versions of a SendReceive (a SendBatch with receives after its records): 5 bounding
 * answers at apply (written), 4 in group order keeping locks, 3 in group order, 2 the earliest
 * form (ReceiveBatch's: `handle_commands.ts`).
 */
/** The layout a SendReceive is written in (the newest of the binary commands but one). */
export const sendReceiveVersion = 5;
const sendReceiveKeepsLocksVersion = 4;
const sendReceiveInGroupOrderVersion = 3;
const sendReceiveEarlierVersion = 2;
const flagGroup = 1;
const flagDedup = 2;
const flagAttributes = 4;

/** One message of a SendBatch command (already validated by the service). */
export interface SendCommandMessage {
  body: string;
  delaySeconds: number;
  groupId?: string;
  dedupId?: string;
  attributes?: Record<string, string>;
}

/** SendBatch command. */
export interface SendBatchCommand {
  queue: string;
  messages: SendCommandMessage[];
}

/** One receive a SendReceive runs after its send (for a long poll parked on the queue). */
export interface ReceiveSpec {
  maxMessages: number;
  /** 0 = the queue's `visibilityTimeoutSeconds`. */
  visibilityTimeoutSeconds: number;
}

/** SendReceive command: a send batch, then receives in the same entry. */
export interface SendReceiveCommand extends SendBatchCommand {
  receives: ReceiveSpec[];
}

/** What apply needs of a sent message: everything except the body text and the attributes. */
export interface SendHeader {
  delaySeconds: number;
  groupId?: string;
  dedupId?: string;
  bodyBytes: number;
}

/** CreateQueue command: attributes already resolved with defaults. */
export interface CreateQueueCommand {
  queue: string;
  attributes: QueueAttributes;
  /** Random 32-bit key of the queue's receipt handle tags. */
  salt: number;
}

/**
 * UpdateQueue command: only the attributes to change (`deadLetter: null` removes it), and
 * optionally tag changes applied at apply time to the tags the queue has then (absent from
 * the JSON when there are none, so an update without them is encoded as before).
 */
export interface UpdateQueueCommand {
  queue: string;
  attributes: QueueAttributesInput;
  tagChanges?: TagChanges;
}

/** DeleteQueue and Purge commands. */
export interface QueueCommand {
  queue: string;
}

/** Rewind command: exactly one of `timestamp` and `sequence`. */
export interface RewindCommand {
  queue: string;
  timestamp?: number;
  sequence?: number;
}

/** Redrive command (`ifCreatedAt`: only the queue of the name created then, see the decoder). */
export interface RedriveCommand {
  queue: string;
  destination?: string;
  maxMessages: number;
  ifCreatedAt?: number;
}

/** Encodes a SendBatch. */
export function encodeSendBatch(command: SendBatchCommand): Uint8Array {
  const writer = new ByteWriter(sendBatchBytesEstimate(command.messages));
  writeSendBatch(writer, command, layoutVersion);
  return writer.finish();
}

/** Encodes a SendReceive. */
export function encodeSendReceive(command: SendReceiveCommand): Uint8Array {
  invariant(command.receives.length > 0, "a send-receive runs at least one receive");
  const receivesBytes = 2 + command.receives.length * 6;
  const writer = new ByteWriter(sendBatchBytesEstimate(command.messages) + receivesBytes);
  writeSendBatch(writer, command, sendReceiveVersion);
  writer.u16(command.receives.length);
  for (const receive of command.receives) {
    writer.u16(receive.maxMessages);
    writer.u32(receive.visibilityTimeoutSeconds);
  }
  return writer.finish();
}

/** The size of a send batch's payload when its bodies are ASCII (so the writer rarely grows). */
function sendBatchBytesEstimate(messages: SendCommandMessage[]): number {
  let bytes = 64;
  for (const message of messages) bytes += 48 + message.body.length;
  return bytes;
}

function writeSendBatch(writer: ByteWriter, command: SendBatchCommand, version: number): void {
  // The service validated the batch; a command outside the limits would be refused by every
  // replica at apply, so building one is a bug.
  invariant(command.messages.length > 0, "a send batch holds at least one message");
  invariant(
    command.messages.length <= messageLimits.batchEntriesMax,
    "a send batch holds at most the batch limit",
  );
  writer.u8(version);
  writer.string16(command.queue);
  writer.u16(command.messages.length);
  const tableAt = writer.length;
  for (let index = 0; index <= command.messages.length; index++) writer.u32(0);
  command.messages.forEach((message, index) => {
    checkSendRecord(message, index);
    writer.patchU32(tableAt + index * 4, writer.length);
    writeSendRecord(writer, message);
  });
  writer.patchU32(tableAt + command.messages.length * 4, writer.length);
}

/**
 * The engine's own check of what the service validates, when the command is built (before it is
 * proposed), never when it is applied: a log written by an earlier release may hold a record
 * outside these rules, and every replica must apply it as that release did. A `delaySeconds`
 * over the limit would otherwise be written (a u16 takes up to 65,535) and delay the message
 * longer than any queue allows; an empty `groupId` would put a FIFO message in the queue-wide
 * group (the key of messages sent without one) instead of refusing it.
 */
function checkSendRecord(message: SendCommandMessage, index: number): void {
  const { min, max } = messageLimits.delaySeconds;
  const delay = message.delaySeconds;
  if (!Number.isInteger(delay) || delay < min || delay > max) {
    throw invalidParameter(`messages.${index}.delaySeconds`, `must be between ${min} and ${max}`);
  }
  if (message.groupId === "") {
    throw invalidParameter(`messages.${index}.groupId`, "must not be empty");
  }
}

function writeSendRecord(writer: ByteWriter, message: SendCommandMessage): void {
  const attributes = message.attributes ? Object.entries(message.attributes) : [];
  writer.u16(message.delaySeconds);
  const flags = (message.groupId !== undefined ? flagGroup : 0) |
    (message.dedupId !== undefined ? flagDedup : 0) |
    (message.attributes !== undefined ? flagAttributes : 0);
  writer.u8(flags);
  if (message.groupId !== undefined) writer.string16(message.groupId);
  if (message.dedupId !== undefined) writer.string16(message.dedupId);
  if (message.attributes !== undefined) {
    writer.u8(attributes.length);
    for (const [key, value] of attributes) {
      writer.string16(key);
      writer.string16(value);
    }
  }
  writer.string32(message.body);
}

interface SendTable {
  version: number;
  queue: string;
  offsets: number[];
}

/** The offset table of a SendBatch (version 1) or SendReceive (version 2 to 4) payload. */
function readSendTable(payload: Uint8Array): SendTable {
  const reader = new ByteReader(payload);
  const version = reader.u8();
  if (version < layoutVersion || version > sendReceiveVersion) {
    throw layoutVersionError(version, sendReceiveVersion);
  }
  const queue = reader.string16();
  const count = reader.u16();
  // Sized at once: pushed one by one, even a one-message table got room for 17.
  const offsets: number[] = new Array(count + 1);
  for (let index = 0; index <= count; index++) offsets[index] = reader.u32();
  let previous = reader.offset;
  for (const offset of offsets) {
    if (offset < previous) throw new DecodeError("offsets not ascending");
    previous = offset;
  }
  const records = offsets[count];
  if (version === layoutVersion ? records !== payload.length : records > payload.length) {
    throw new DecodeError("offset table does not end");
  }
  return { version, queue, offsets };
}

/** The fields of one stored send record (see `readSendRecord`). */
export interface RecordFields extends SendHeader {
  attributes?: Record<string, string>;
  bodyAt: number;
}

function readSendRecord(payload: Uint8Array, from: number, to: number, full: boolean) {
  const reader = new ByteReader(payload, from, to);
  const delaySeconds = reader.u16();
  const flags = reader.u8();
  if (flags & ~(flagGroup | flagDedup | flagAttributes)) throw new DecodeError("unknown flags");
  const record: RecordFields = { delaySeconds, bodyBytes: 0, bodyAt: 0 };
  if (flags & flagGroup) record.groupId = reader.string16();
  if (flags & flagDedup) record.dedupId = reader.string16();
  if (flags & flagAttributes) {
    const count = reader.u8();
    const attributes: [string, string][] = [];
    for (let index = 0; index < count; index++) {
      if (full) {
        attributes.push([reader.string16(), reader.string16()]);
      } else {
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

/** Decodes what apply needs of a SendBatch (no body text, no attributes). */
export function decodeSendHeaders(payload: Uint8Array): { queue: string; messages: SendHeader[] } {
  const table = readSendTable(payload);
  if (table.version !== layoutVersion) {
    throw new DecodeError(`unknown layout version ${table.version}`);
  }
  return { queue: table.queue, messages: sendHeaders(payload, table) };
}

/** Decodes what apply needs of a SendReceive: the send's headers and the receives. */
export function decodeSendReceive(
  payload: Uint8Array,
): { queue: string; messages: SendHeader[]; receives: ReceiveSpec[] } & ReceiveLayout {
  const table = readSendTable(payload);
  if (table.version < sendReceiveEarlierVersion) {
    throw new DecodeError(`unknown layout version ${table.version}`);
  }
  const reader = new ByteReader(payload, table.offsets[table.offsets.length - 1]);
  const count = reader.u16();
  const receives: ReceiveSpec[] = [];
  for (let index = 0; index < count; index++) {
    receives.push({ maxMessages: reader.u16(), visibilityTimeoutSeconds: reader.u32() });
  }
  reader.end();
  const inGroupOrder = table.version >= sendReceiveInGroupOrderVersion;
  const keepsLocks = table.version >= sendReceiveKeepsLocksVersion;
  const boundsAnswer = table.version >= sendReceiveVersion;
  return {
    queue: table.queue,
    messages: sendHeaders(payload, table),
    receives,
    inGroupOrder,
    keepsLocks,
    boundsAnswer,
  };
}

function sendHeaders(payload: Uint8Array, table: SendTable): SendHeader[] {
  const messages: SendHeader[] = [];
  for (let index = 0; index + 1 < table.offsets.length; index++) {
    const record = readSendRecord(payload, table.offsets[index], table.offsets[index + 1], false);
    const header: SendHeader = { delaySeconds: record.delaySeconds, bodyBytes: record.bodyBytes };
    if (record.groupId !== undefined) header.groupId = record.groupId;
    if (record.dedupId !== undefined) header.dedupId = record.dedupId;
    messages.push(header);
  }
  return messages;
}

/** One message of a SendBatch (or SendReceive) entry as a reader needs it: the body as stored (UTF-8). */
export interface StoredMessage {
  /** UTF-8 bytes of the body (a view into the payload). */
  bodyBytes: Uint8Array;
  groupId?: string;
  /** The id the send deduplicated by (FIFO sends through the SQS door always have one). */
  dedupId?: string;
  attributes?: Record<string, string>;
}

/**
 * Reads messages out of one SendBatch or SendReceive payload; its table is parsed once, however many slots are
 * read (a receive takes up to 16 messages, mostly from one entry).
 *
 * @example
 * ```ts
 * const reader = new SentMessageReader(log.entry(index).payload);
 * const { bodyBytes } = reader.message(slot);
 * ```
 */
export class SentMessageReader {
  readonly #payload: Uint8Array;
  readonly #table: SendTable;

  constructor(payload: Uint8Array) {
    this.#payload = payload;
    this.#table = readSendTable(payload);
  }

  message(slot: number): StoredMessage {
    const record = this.record(slot);
    const message: StoredMessage = {
      bodyBytes: this.#payload.subarray(record.bodyAt, record.bodyAt + record.bodyBytes),
    };
    if (record.groupId !== undefined) message.groupId = record.groupId;
    if (record.dedupId !== undefined) message.dedupId = record.dedupId;
    if (record.attributes !== undefined) message.attributes = record.attributes;
    return message;
  }

  /** Every field of message `slot`; the body as its position in the payload. */
  record(slot: number): RecordFields {
    const offsets = this.#table.offsets;
    if (!Number.isInteger(slot) || slot < 0 || slot + 1 >= offsets.length) {
      throw new DecodeError(`no message ${slot} in this entry`);
    }
    return readSendRecord(this.#payload, offsets[slot], offsets[slot + 1], true);
  }
}

/** Encodes an admin command as JSON. */
export function encodeJson(command: object): Uint8Array {
  return utf8(JSON.stringify(command));
}

/** Decodes an admin command: a JSON object whose `queue` is a string. */
export function decodeJsonCommand(payload: Uint8Array): Record<string, unknown> & QueueCommand {
  const record = decodeJsonObject(payload);
  if (typeof record.queue !== "string") throw new DecodeError("queue is not a string");
  return record as Record<string, unknown> & QueueCommand;
}

/** Decodes a JSON object payload (admin and cluster commands). */
export function decodeJsonObject(payload: Uint8Array): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(fromUtf8(payload));
  } catch (error) {
    if (error instanceof DecodeError) throw error;
    throw new DecodeError("not JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new DecodeError("not a JSON object");
  }
  return value as Record<string, unknown>;
}

/** Encodes a CreateQueue. */
export function encodeCreateQueue(command: CreateQueueCommand): Uint8Array {
  return encodeJson(command);
}

/** Encodes an UpdateQueue. */
export function encodeUpdateQueue(command: UpdateQueueCommand): Uint8Array {
  return encodeJson(command);
}

/** Encodes a DeleteQueue or a Purge. */
export function encodeQueueCommand(command: QueueCommand): Uint8Array {
  return encodeJson(command);
}

/** Encodes a Rewind. */
export function encodeRewind(command: RewindCommand): Uint8Array {
  return encodeJson(command);
}

/** Encodes a Redrive. */
export function encodeRedrive(command: RedriveCommand): Uint8Array {
  return encodeJson(command);
}

/** The Tick payload (empty). */
export function encodeTick(): Uint8Array {
  return new Uint8Array(0);
}
