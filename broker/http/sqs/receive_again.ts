/**
 * A ReceiveMessage retried with the ReceiveRequestAttemptId of a remembered receive (FIFO
 * queues; `receive_attempts.ts`): its answer again, each message's lock reset to the retry's
 * VisibilityTimeout (SQS: a retry "resets the visibility timeout"; absent, the queue's; 0, the
 * messages visible again at once) — while every message of the set is still held under its
 * handle. SQS allows the retry "if none of the messages have been modified"; once one was
 * deleted, had its visibility changed or left its lock (found so through this door, or by the
 * check below), the set is spent and the answer is no message: nothing new is locked for a retry,
 * and no lock of the set changes for its sake.
 *
 * The set is checked before it is reset, so that a retry answering no message changes nothing
 * it would have to undo (an undo can fail, and a released message can't be locked again): the
 * check is a visibility change that keeps each lock where it ends (its remembered end, rounded up
 * to the second from the door's clock, at least 1 s). Only a complete set is then reset. When the
 * engine's clock lags the door's so that the check ended a lock earlier than before, and the set
 * is incomplete, that lock is put back (exactly: the change's answer gives its apply time); if
 * that fails, the retry answers the failure, the node's log saying which locks end early.
 *
 * A message of a complete set that leaves its lock between the check and the reset (a delete
 * racing the retry) is answered anyway, as if it left after the answer; the set is spent then.
 * The reset is held to the first receive's 12-hour cap (its handles carry that receive's time):
 * one that would end the lock later ends it at the cap.
 *
 * @module
 */
import type { HandleFailure } from "./broker_deps.ts";
import type { OperationContext } from "./context.ts";
import type { JsonObject } from "./input.ts";
import type { QueueRef } from "./queue_names.ts";
import type { RememberedReceive } from "./receive_attempts.ts";
import { lockCapRefusal, lockCapSeconds, readHandle } from "./receipt_times.ts";

/** A visibility change's answer, as the service gives it. */
interface Changed {
  entries: { receiptHandle: string; visibleAt: number }[];
  failures: HandleFailure[];
}

/** The retry of `remembered` with VisibilityTimeout `visibility` (absent: the queue's). */
export async function receiveAgain(
  context: OperationContext,
  queue: QueueRef,
  remembered: RememberedReceive,
  visibility: number | undefined,
): Promise<JsonObject> {
  if (remembered.spent) return {};
  const asked = visibility ??
    (await context.service.getQueue(queue.name)).visibilityTimeoutSeconds;
  const seconds = withinLockCap(asked, remembered.answer, context.now());
  const kept = keptLocks(remembered, context.now());
  if (kept !== null) {
    const before = [...remembered.lockEnds];
    const checked = await change(context, queue, remembered, kept);
    if (!holdsAll(checked, seconds)) {
      remembered.spent = true;
      await putBackShortened(context, queue, { remembered, before, checked, kept });
      return {};
    }
  }
  const reset = await change(context, queue, remembered, remembered.handles.map(() => seconds));
  if (holdsAll(reset, seconds)) return remembered.answer;
  // Left between the check and the reset: modified after this answer.
  remembered.spent = true;
  return kept === null ? {} : remembered.answer;
}

/**
 * The check's lock of each handle: the seconds from `now` to its remembered end, rounded up, at
 * least 1; null when the ends are not known (a set remembered without them: then the reset is
 * the check).
 */
function keptLocks(remembered: RememberedReceive, now: number): number[] | null {
  if (remembered.lockEnds.length !== remembered.handles.length) return null;
  return remembered.lockEnds.map((end) => Math.max(1, Math.ceil((end - now) / 1000)));
}

/** Sets the lock of each handle of `remembered` to `seconds[i]`, noting the new ends. */
async function change(
  context: OperationContext,
  queue: QueueRef,
  remembered: RememberedReceive,
  seconds: readonly number[],
): Promise<Changed> {
  const changed = await context.service.changeVisibility(
    queue.name,
    remembered.handles.map((receiptHandle, index) => ({
      receiptHandle,
      visibilityTimeoutSeconds: seconds[index],
    })),
  );
  if (remembered.lockEnds.length === remembered.handles.length) {
    for (const { receiptHandle, visibleAt } of changed.entries) {
      const index = remembered.handles.indexOf(receiptHandle);
      if (index >= 0) remembered.lockEnds[index] = visibleAt;
    }
  }
  return changed;
}

/**
 * True when every message is still held: a release (0) of a message whose lock the first
 * answer's own release ended already is fine.
 */
function holdsAll(changed: Changed, seconds: number): boolean {
  return changed.failures.every((failure) =>
    seconds === 0 && failure.code === "MessageNotInflight"
  );
}

/**
 * After a check that found the set incomplete: the locks it ended earlier than they ended before
 * (the engine's clock behind the door's), put back to their ends. A failure is logged and
 * answered: those locks end early.
 */
async function putBackShortened(
  context: OperationContext,
  queue: QueueRef,
  check: {
    remembered: RememberedReceive;
    /** The ends before the check, by index of the handles. */
    before: readonly number[];
    checked: Changed;
    kept: readonly number[];
  },
): Promise<void> {
  const entries: { receiptHandle: string; visibilityTimeoutSeconds: number }[] = [];
  for (const { receiptHandle, visibleAt } of check.checked.entries) {
    const index = check.remembered.handles.indexOf(receiptHandle);
    const before = check.before[index];
    if (visibleAt >= before) continue;
    const appliedAt = visibleAt - check.kept[index] * 1000;
    const left = Math.ceil((before - appliedAt) / 1000);
    entries.push({ receiptHandle, visibilityTimeoutSeconds: left });
  }
  if (entries.length === 0) return;
  try {
    await context.service.changeVisibility(queue.name, entries);
  } catch (error) {
    context.logError(
      `ReceiveRequestAttemptId retry on ${queue.name}: ${entries.length} lock(s) of its set ` +
        `end up to ${entries[0].visibilityTimeoutSeconds} s early: putting them back failed`,
      error,
    );
    throw error;
  }
}

/**
 * `seconds`, or less when a lock of `seconds` from `now` would end past the cap from the receive
 * that made `answer` (the time its handles carry); at least 1 s, so that a retry never releases.
 */
function withinLockCap(seconds: number, answer: JsonObject, now: number): number {
  const first = (answer.Messages as JsonObject[] | undefined)?.[0]?.ReceiptHandle;
  const receivedAt = typeof first === "string" ? readHandle(first).receivedAt : undefined;
  if (receivedAt === undefined || lockCapRefusal(seconds, receivedAt, now) === null) return seconds;
  return Math.max(1, Math.floor((receivedAt + lockCapSeconds * 1000 - now) / 1000));
}
