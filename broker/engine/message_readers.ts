/**
 * Reading a queue message's body back from the log. A queue message points at (entry index,
 * slot); the entry is a SendBatch (or a SendReceive) when it was sent to the queue, or a PublishBatch when the queue
 * got it as a topic subscription's copy. This picks the reader by the entry's type.
 *
 * @module
 */
import { DecodeError } from "./binary.ts";
import { SentMessageReader, type StoredMessage } from "./commands.ts";
import { PublishedMessageReader } from "./topic_commands.ts";
import { type AppliedEntry, CommandType } from "./types.ts";

/** Reads stored messages of one log entry by slot. */
export interface StoredMessageReader {
  message(slot: number): StoredMessage;
}

/**
 * The reader of the messages an entry holds; throws `DecodeError` for an entry that holds none.
 *
 * @example
 * ```ts
 * const { bodyBytes } = messageReaderFor(log.entry(delivery.logIndex)).message(delivery.slot);
 * ```
 */
export function messageReaderFor(entry: AppliedEntry): StoredMessageReader {
  if (entry.type === CommandType.SendBatch || entry.type === CommandType.SendReceive) {
    return new SentMessageReader(entry.payload); // a SendReceive starts with its send's layout
  }
  if (entry.type === CommandType.PublishBatch) return new PublishedMessageReader(entry.payload);
  throw new DecodeError(`entry ${entry.index} (type ${entry.type}) holds no messages`);
}
