/**
 * How a `Producer` keeps a group in order when one of its sends fails.
 *
 * A group is the sends of one `groupId` (and, with `fifo: true`, the sends without one). When a
 * batch request fails for a send of a group — rejected, its retries used up, aborted on the wire,
 * or the send named as bad by the broker — the group **breaks**: every send of the group made
 * before the failure and not yet sent (queued, waiting for room, or behind the bad one in its
 * batch) rejects with `EarlierSendFailed`, naming the failed send and carrying its error as
 * `cause`; none of them is sent. Sent after them, the failed one would land behind them, out of
 * order. Sends of the group made after the failure — the caller's, once it saw it — go out as
 * usual, so sending again from the failed send, in order, keeps the group's order. Other groups,
 * and sends without a group (without `fifo: true`), are not affected; a send the caller withdrew
 * (its signal aborted while it was queued) breaks nothing.
 *
 * @module
 */
import { CmqdError } from "./errors.ts";
import type { SendMessageEntry } from "./protocol.ts";

/** A group that broke while sends of it were waiting for room. */
interface Break {
  /** Sends numbered up to this one were made before the failure. */
  upTo: number;
  failed: SendMessageEntry;
  error: unknown;
}

/**
 * The groups' sends waiting for room (not yet queued), and the groups that broke while some were:
 * those sends are refused when they get their room. A group's break is forgotten once none of its
 * sends waits, so the table holds only groups with waiting sends.
 */
export class GroupBreaks {
  readonly #queue: string;
  #waiting = new Map<string, number>();
  #breaks = new Map<string, Break>();

  constructor(queue: string) {
    this.#queue = queue;
  }

  /** A send of `group` starts waiting for room. */
  wait(group: string | undefined): void {
    if (group !== undefined) this.#waiting.set(group, (this.#waiting.get(group) ?? 0) + 1);
  }

  /**
   * Send number `number` of `group` stops waiting for room (given it, or aborted): the error it is
   * to reject with when its group broke after it was made, else undefined.
   */
  leave(group: string | undefined, number: number): CmqdError | undefined {
    if (group === undefined) return undefined;
    const waiting = this.#waiting.get(group)! - 1;
    const broken = this.#breaks.get(group);
    if (waiting === 0) {
      this.#waiting.delete(group);
      this.#breaks.delete(group);
    } else {
      this.#waiting.set(group, waiting);
    }
    if (broken === undefined || number > broken.upTo) return undefined;
    return earlierSendFailed(this.#queue, group, broken.failed, broken.error);
  }

  /** `group` broke after send number `upTo`: its sends waiting for room will be refused. */
  broke(group: string, upTo: number, failed: SendMessageEntry, error: unknown): void {
    if (this.#waiting.has(group)) this.#breaks.set(group, { upTo, failed, error });
  }
}

/** The error of a send not sent because an earlier send of its group, `failed`, failed. */
export function earlierSendFailed(
  queue: string,
  group: string,
  failed: SendMessageEntry,
  error: unknown,
): CmqdError {
  const which = group === "" ? "the sends without a groupId (fifo: true)" : `group '${group}'`;
  const named = typeof failed.dedupId === "string" ? ` (dedupId '${failed.dedupId}')` : "";
  const reason = error instanceof CmqdError
    ? `${error.code}: ${error.message}`
    : error instanceof Error
    ? `${error.name}: ${error.message}`
    : String(error);
  return new CmqdError(
    "EarlierSendFailed",
    `not sent to '${queue}', to keep ${which} in order: an earlier send of it${named} failed ` +
      `(${reason}); send again from that one, in order`,
    { status: 0, cause: error },
  );
}
