/**
 * What the service makes of a receive's deliveries and a send's messages, apart from the
 * service itself: bodies read back from the log, and how many messages a send makes receivable.
 *
 * @module
 */
import {
  type Delivery,
  fromStoredUtf8,
  type LogReader,
  messageReaderFor,
  type SendCommandMessage,
  type StoredMessageReader,
} from "../engine/mod.ts";
import type { ReceivedMessage } from "../../sdk/protocol.ts";

/**
 * What a received message carries that the native answer does not show (its contract has no
 * field for them), for a door that answers them: the id its send deduplicated by, and the queue
 * it was moved from (dead-lettered or redriven).
 */
export interface MessageProvenance {
  dedupId?: string;
  origin?: string;
}

/**
 * Where a message's provenance is kept: a symbol-keyed property, which `JSON.stringify` (every
 * door's answer) skips, so a native answer stays as its contract says. (A WeakMap beside the
 * messages cost 250–450 ns per message, against about 10 for the property.)
 */
const provenanceKey = Symbol("provenance");

type WithProvenance = ReceivedMessage & { [provenanceKey]?: MessageProvenance };

/**
 * The provenance of a message `readMessages` made (undefined: no dedup id, never moved).
 *
 * @example
 * ```ts
 * const dedupId = provenanceOf(response.messages[0])?.dedupId;
 * ```
 */
export function provenanceOf(message: ReceivedMessage): MessageProvenance | undefined {
  return (message as WithProvenance)[provenanceKey];
}

/**
 * Bodies of a receive's deliveries; an entry (a send batch, or a publish whose copy the queue
 * got) is read (and CRC-checked) once, as a view (no copy): everything is decoded from it
 * before the next read of the log, all in this call.
 *
 * @example
 * ```ts
 * const result = await replica.propose(CommandType.ReceiveBatch, payload);
 * const messages = readMessages(replica, (result as ReceiveResult).messages);
 * ```
 */
export function readMessages(log: LogReader, deliveries: Delivery[]): ReceivedMessage[] {
  let lastIndex = -1;
  let reader: StoredMessageReader | undefined;
  return deliveries.map((delivery) => {
    if (delivery.logIndex !== lastIndex) {
      reader = messageReaderFor(log.entry(delivery.logIndex, false));
      lastIndex = delivery.logIndex;
    }
    const sent = reader!.message(delivery.slot);
    const message: ReceivedMessage = {
      id: delivery.id,
      sequence: delivery.sequence,
      body: fromStoredUtf8(sent.bodyBytes),
      receiptHandle: delivery.receiptHandle,
      enqueuedAt: delivery.enqueuedAt,
      firstReceivedAt: delivery.firstReceivedAt,
      receiveCount: delivery.receiveCount,
      visibleAt: delivery.visibleAt,
    };
    if (sent.groupId !== undefined) message.groupId = sent.groupId;
    if (sent.attributes !== undefined) message.attributes = sent.attributes;
    if (sent.dedupId !== undefined || delivery.origin !== undefined) {
      const provenance: MessageProvenance = {};
      if (sent.dedupId !== undefined) provenance.dedupId = sent.dedupId;
      if (delivery.origin !== undefined) provenance.origin = delivery.origin;
      (message as WithProvenance)[provenanceKey] = provenance;
    }
    return message;
  });
}

/**
 * How many of a send's messages a receive could take the moment it is applied: not the delayed
 * ones, and on a FIFO queue at most one per group, only of a group that holds no message yet
 * (`holds`: a new message queues behind the group's head, in flight, delayed or waiting, so it
 * adds nothing a receive could take) and whose first message of the send is not delayed (it
 * becomes the group's head and blocks the rest).
 *
 * @example
 * ```ts
 * const none = () => false;
 * receivableAtOnce([{ body: "a", delaySeconds: 0 }, { body: "b", delaySeconds: 5 }], false, none); // 1
 * ```
 */
export function receivableAtOnce(
  messages: SendCommandMessage[],
  fifo: boolean,
  holds: (group: string) => boolean,
): number {
  if (fifo) {
    const seen = new Set<string>();
    let open = 0;
    for (const message of messages) {
      const group = message.groupId ?? "";
      if (seen.has(group)) continue;
      seen.add(group);
      if (message.delaySeconds === 0 && !holds(group)) open++;
    }
    return open;
  }
  // Counted, not collected: this runs for every send.
  let now = 0;
  for (const message of messages) if (message.delaySeconds === 0) now++;
  return now;
}
