/**
 * Codecs of the queue engine's commands that carry receipt handles: ReceiveBatch, DeleteBatch and
 * ChangeVisibility (binary, little-endian, see `binary.ts`; the other commands: `commands.ts`).
 * Every one starts with a `u8` layout version and the queue name as `u16 length + UTF-8`:
 *
 * - **ReceiveBatch**: `version (4, or 1 to 3 the earlier forms), queue, u16 maxMessages,
 *   u32 visibilityTimeoutSeconds (0 = the queue's default), u16 n, n × (u8 len + receipt handle
 *   bytes)` (the handles to delete first, in the same entry). What each layout means for the
 *   receive (`ReceiveLayout`) is in `commands.ts`, beside SendReceive's.
 * - **DeleteBatch**: `version (1), queue, u16 n, n × (u8 len + receipt handle bytes)`.
 * - **ChangeVisibility**: `version (1), queue, u16 n, n × (u8 len + handle bytes, u32 seconds)`.
 *
 * Receipt handles travel as the bytes the client's string decodes to (an empty array when it
 * does not decode), so the state machine reports every per-handle failure in request order.
 *
 * Every decoder throws `DecodeError` on a truncated or garbage payload, and `NewerLayoutError`
 * (`release.ts`) on a layout version above the ones this release writes; never anything else.
 *
 * @module
 */
import { ByteReader, ByteWriter } from "./binary.ts";
import { layoutVersionError } from "./release.ts";

const layoutVersion = 1;
/**
 * The layout versions of a ReceiveBatch: 4 bounding answers at apply (written), 3 keeping locks,
 * 2 in group order, 1 the earliest form.
 */
/** The layout a ReceiveBatch is written in. */
export const receiveVersion = 4;
const receiveKeepsLocksVersion = 3;
const receiveInGroupOrderVersion = 2;

/**
 * How a decoded receive (ReceiveBatch, SendReceive) runs, by its layout (`commands.ts`): the
 * housekeeping of its queue first (the dead-letter TTL of a FIFO queue in group order or not, and
 * whether retention keeps a FIFO queue's message in flight until its lock ends), and whether
 * apply keeps each answer to `messageLimits.receiveBodyBytesMax` of bodies.
 */
export interface ReceiveLayout {
  inGroupOrder: boolean;
  keepsLocks: boolean;
  boundsAnswer: boolean;
}

/** ReceiveBatch command. */
export interface ReceiveBatchCommand {
  queue: string;
  maxMessages: number;
  /** 0 = the queue's `visibilityTimeoutSeconds`. */
  visibilityTimeoutSeconds: number;
  /** Binary receipt handles to delete first (see `receiptHandleToBytes`). */
  deleteHandles: Uint8Array[];
}

/** DeleteBatch command. */
export interface DeleteBatchCommand {
  queue: string;
  handles: Uint8Array[];
}

/** ChangeVisibility command. */
export interface ChangeVisibilityCommand {
  queue: string;
  entries: { handle: Uint8Array; visibilityTimeoutSeconds: number }[];
}

function writeHeader(writer: ByteWriter, queue: string): void {
  writer.u8(layoutVersion);
  writer.string16(queue);
}

function readHeader(reader: ByteReader): string {
  const version = reader.u8();
  if (version !== layoutVersion) throw layoutVersionError(version, layoutVersion);
  return reader.string16();
}

function writeHandles(writer: ByteWriter, handles: Uint8Array[]): void {
  writer.u16(handles.length);
  for (const handle of handles) {
    writer.u8(handle.length);
    writer.bytes(handle);
  }
}

/** A view of the payload, not a copy: commands are applied while their entry is at hand. */
function readHandle(reader: ByteReader): Uint8Array {
  return reader.bytes(reader.u8());
}

function readHandles(reader: ByteReader): Uint8Array[] {
  const count = reader.u16();
  const handles: Uint8Array[] = [];
  for (let index = 0; index < count; index++) handles.push(readHandle(reader));
  return handles;
}

/** Encodes a ReceiveBatch (in group order, keeping locks, bounding its answer: layout 4). */
export function encodeReceiveBatch(command: ReceiveBatchCommand): Uint8Array {
  const writer = new ByteWriter(32 + command.deleteHandles.length * 32);
  writer.u8(receiveVersion);
  writer.string16(command.queue);
  writer.u16(command.maxMessages);
  writer.u32(command.visibilityTimeoutSeconds);
  writeHandles(writer, command.deleteHandles);
  return writer.finish();
}

/** Decodes a ReceiveBatch (layout 4, or 1 to 3: the earlier forms). */
export function decodeReceiveBatch(payload: Uint8Array): ReceiveBatchCommand & ReceiveLayout {
  const reader = new ByteReader(payload);
  const version = reader.u8();
  if (version < layoutVersion || version > receiveVersion) {
    throw layoutVersionError(version, receiveVersion);
  }
  const queue = reader.string16();
  const maxMessages = reader.u16();
  const visibilityTimeoutSeconds = reader.u32();
  const deleteHandles = readHandles(reader);
  reader.end();
  const inGroupOrder = version >= receiveInGroupOrderVersion;
  const keepsLocks = version >= receiveKeepsLocksVersion;
  const boundsAnswer = version >= receiveVersion;
  return {
    queue,
    maxMessages,
    visibilityTimeoutSeconds,
    deleteHandles,
    inGroupOrder,
    keepsLocks,
    boundsAnswer,
  };
}

/** Encodes a DeleteBatch. */
export function encodeDeleteBatch(command: DeleteBatchCommand): Uint8Array {
  const writer = new ByteWriter(32 + command.handles.length * 32);
  writeHeader(writer, command.queue);
  writeHandles(writer, command.handles);
  return writer.finish();
}

/** Decodes a DeleteBatch. */
export function decodeDeleteBatch(payload: Uint8Array): DeleteBatchCommand {
  const reader = new ByteReader(payload);
  const queue = readHeader(reader);
  const handles = readHandles(reader);
  reader.end();
  return { queue, handles };
}

/** Encodes a ChangeVisibility. */
export function encodeChangeVisibility(command: ChangeVisibilityCommand): Uint8Array {
  const writer = new ByteWriter(32 + command.entries.length * 36);
  writeHeader(writer, command.queue);
  writer.u16(command.entries.length);
  for (const entry of command.entries) {
    writer.u8(entry.handle.length);
    writer.bytes(entry.handle);
    writer.u32(entry.visibilityTimeoutSeconds);
  }
  return writer.finish();
}

/** Decodes a ChangeVisibility. */
export function decodeChangeVisibility(payload: Uint8Array): ChangeVisibilityCommand {
  const reader = new ByteReader(payload);
  const queue = readHeader(reader);
  const count = reader.u16();
  const entries: ChangeVisibilityCommand["entries"] = [];
  for (let index = 0; index < count; index++) {
    const handle = readHandle(reader);
    entries.push({ handle, visibilityTimeoutSeconds: reader.u32() });
  }
  reader.end();
  return { queue, entries };
}
