/**
 * Incarnation tags on the leader's messages and their answers. A member's id may be removed and
 * added back within one leader term (a new node on an empty disk); a late answer of the earlier
 * incarnation must not count for the new one. The leader tags what it sends a member with
 * `Progress.incarnation`, the member echoes the tag in its answer, and the leader ignores an
 * answer with another tag (`answerIncarnation`).
 *
 * - `App` and `Snap`: `context` is the tag; `AppResp` and `SnapResp` echo it.
 * - `Heartbeat`: `context` is the tag, `HEARTBEAT_TAG_END`, then the ReadIndex round ("" if
 *   none); `HeartbeatResp` echoes the whole context. Tags are decimal indexes and rounds are
 *   `r` and a number, so neither holds the separator.
 * - A `LOST_ENTRIES` rejection answers a heartbeat: its `context` is `LOST_ENTRIES`,
 *   `HEARTBEAT_TAG_END` and the heartbeat's tag.
 *
 * Compatibility with nodes of an older version, which neither tag nor parse: a heartbeat without
 * the separator holds the round alone, and its lost-entries answer is untagged; an untagged
 * answer is believed, as before tags existed. An older node echoes a tagged heartbeat's context
 * whole, as it echoes any.
 *
 * @module
 */

import { LOST_ENTRIES, type Message, MessageType } from "./types.ts";

/** Ends the incarnation tag at the start of a heartbeat's (and a lost-entries answer's) context. */
export const HEARTBEAT_TAG_END = ":";

/** The context of a heartbeat to the member of tag `incarnation` for ReadIndex round `round`. */
export function heartbeatContext(incarnation: string, round: string): string {
  return incarnation + HEARTBEAT_TAG_END + round;
}

/** A heartbeat context's tag (null: untagged, from an older leader) and its ReadIndex round. */
export function heartbeatParts(context: string): { incarnation: string | null; round: string } {
  const end = context.indexOf(HEARTBEAT_TAG_END);
  if (end < 0) return { incarnation: null, round: context };
  return { incarnation: context.slice(0, end), round: context.slice(end + 1) };
}

/** The context of a lost-entries rejection answering a heartbeat tagged `incarnation`. */
export function lostEntriesContext(incarnation: string | null): string {
  return incarnation === null ? LOST_ENTRIES : LOST_ENTRIES + HEARTBEAT_TAG_END + incarnation;
}

/** Whether `context` marks an `AppResp` as a lost-entries rejection (tagged or not). */
export function isLostEntries(context: string): boolean {
  return context === LOST_ENTRIES ||
    (context.startsWith(LOST_ENTRIES) && context[LOST_ENTRIES.length] === HEARTBEAT_TAG_END);
}

/**
 * The incarnation tag an answer echoes, or null when it carries none (an older node's answer,
 * or a kind of message that is no answer to a tagged one): then it is believed.
 */
export function answerIncarnation(message: Message): string | null {
  const { context } = message;
  switch (message.type) {
    case MessageType.AppResp:
      if (context === "" || context === LOST_ENTRIES) return null;
      return isLostEntries(context) ? context.slice(LOST_ENTRIES.length + 1) : context;
    case MessageType.SnapResp:
      return context === "" ? null : context;
    case MessageType.HeartbeatResp:
      return heartbeatParts(context).incarnation;
    default:
      return null;
  }
}
