/**
 * A whole `Message` from the fields a test cares about: the rest are those of an empty append
 * of term 1 (no entries, index and commit 0, not a rejection, no context).
 *
 * @module
 */
import type { LogIndex, Message, Term } from "../types.ts";

/**
 * A message with `fields` over empty defaults.
 *
 * @example
 * ```ts
 * node.step(testMessage({ type: MessageType.App, from: n2, to: n1, term: 5 as Term }));
 * ```
 */
export function testMessage(
  fields: Partial<Message> & Pick<Message, "type" | "from" | "to">,
): Message {
  return {
    term: 1 as Term,
    logTerm: 0 as Term,
    index: 0 as LogIndex,
    entries: [],
    commit: 0 as LogIndex,
    reject: false,
    rejectHint: 0 as LogIndex,
    context: "",
    ...fields,
  };
}
