/**
 * The consumer's write side: deletes of handled messages and lock changes (renewals, retry
 * delays, releases). Internal to `consumer.ts`.
 *
 * Deletes are piggybacked: a finished message's receipt handle waits in `#pendingDeletes` for
 * the consumer's next receive, which carries it in `deleteReceiptHandles` (one round trip for
 * "ack these, give me more"). When no receive takes it within `deleteLingerMs` — a long poll is
 * parked, the loop is backing off, or the consumer is stopping — it goes out in an explicit
 * delete call instead, so a handled message is never left to its lock running out. Such a call is
 * given up after 30 s without an answer, or the client's `timeoutMs` if that is longer and finite
 * (`deleteCallMsMax`), aborted through its signal, and its messages reported as `Timeout` (they
 * may or may not be deleted; if not, they come back when their locks run out): a delete that
 * never settles can't hold `flush()`, the consumer's stop.
 *
 * Lock changes are batched per tick into one `changeVisibility` call, and at most
 * `changeCallsMax` (4) calls are on the wire: changes due while they all are wait, soonest lock
 * first, and leave together (up to a batch) when one settles, so a slow node gets a few full
 * calls rather than one per tick. At most two of them carry no renewal (retry delays, releases,
 * whose locks may be far off), so a renewal waits at most for a renewal's call, each given up at
 * a quarter of the lock at the latest (below). A message has at most one
 * change on the wire: its next change waits for that call, so a renewal can never land after
 * (and undo) the shorter retry delay or the release that followed it. Changes of other messages
 * do not wait: they go in a call of their own, so one call that gets no answer (a node that
 * accepted the connection and says nothing) holds up only the locks it carries, never every
 * running handler's renewal. Such a call is given up, its changes unconfirmed, at half of the
 * time left on the soonest lock it carries when it was sent, never before `changeCallMsMin` and
 * never after 30 s, or the client's `timeoutMs` if that is longer and finite, as a delete
 * (`changeCallMsMax`; the bound too of a call none of whose locks has a known deadline): no call
 * that never settles holds a call slot for good, nor, under a 12 h lock, the release at stop or a
 * renewal for 6 h. It is aborted through its signal: the other half leaves room for the consumer
 * to renew again while the lock still holds (the client's longer timeout never stretches a call
 * past that half). Before that, a `CmqdClient` is asked (the call's `headTimeoutMs`, never
 * more than its own) to take a node silent for half of that time for frozen, so it moves on to
 * another node within the call (a call given up is aborted, which tells the client nothing
 * about the node; a node silent that long only under this call's shorter bound is avoided by the
 * client's later calls once it happens twice in a row, so one slow answer does not send every
 * call of the client elsewhere). The client's own timeouts still
 * apply, so a shorter `timeoutMs` ends a call sooner. Given up, its request may still reach the
 * broker later, as after the client's own timeout: a renewal landing after a later retry delay
 * or release of the same message only hides that delivery longer (a receipt handle names one
 * delivery: it can't touch a later one).
 *
 * @module
 */
import type { CmqdClient } from "./client.ts";
import { CmqdError } from "./errors.ts";
import { badEntryIndex } from "./bad_entry.ts";
import {
  calling,
  countOf,
  failureError,
  givenUp,
  listOf,
  unanswered,
  unexpected,
} from "./consumer_answers.ts";
import { refusedForGood } from "./consumer_lock.ts";
import type { ChangeVisibilityResponse, HandleFailure, ReceivedMessage } from "./protocol.ts";

/** What a consumer needs of a client (tests pass a fake). */
export type ConsumerClient =
  & Pick<CmqdClient, "receiveMessages" | "deleteMessages" | "changeVisibility">
  & Partial<Pick<CmqdClient, "headTimeoutMs" | "timeoutMs">>;

type VisibilityEntryAnswer = ChangeVisibilityResponse["entries"][number];

/**
 * A lock change's outcome: `ok` only when the broker's answer lists it among its `entries`.
 * `lockLost`: the broker refused it for this handle, or refused the request itself for good
 * (`refusedForGood`: `QueueNotFound`, the queue deleted while the message was held; 401, 403 —
 * the key removed or its permission taken away —; a 4xx other than 408 and 429); otherwise a
 * failed change is unconfirmed (no answer, a 503, or an answer that leaves it out): it may or may
 * not have been applied.
 */
export type VisibilityOutcome =
  | { ok: true; visibleAt: number }
  | {
    ok: false;
    lockLost: boolean;
    error: unknown;
    /** Unanswered and given up (see the module doc): half the lock left is still ahead. */
    givenUp?: boolean;
  };

/** A delete taken by a receive, to settle with that receive's answer. */
export interface TakenDeletes {
  handles: string[];
  messages: Map<string, PendingDelete>;
}

interface PendingDelete {
  message: ReceivedMessage;
  /** Sent before in a request whose answer was lost: a "stale" answer may mean "done". */
  uncertain: boolean;
}

interface PendingChange {
  message: ReceivedMessage;
  seconds: number;
  /** Local time by which the message's current lock has surely not run out, when known. */
  lockDeadlineMs: number | undefined;
  /** It extends the lock of a running handler (else: a retry delay or a release). */
  renewal: boolean;
  resolve(outcome: VisibilityOutcome): void;
}

/**
 * The least time a lock-change call is given before it is given up, however soon a lock it
 * carries runs out (a lock measured from the moment its request was sent, which is never later
 * than the broker's start of it, may still hold): a call is not aborted before it is on its way.
 * Below a quarter of the shortest lock (1 s), so a renewal, sent at half of its lock, is given
 * up with time left to be sent again, and no renewal waits for a free call longer than that.
 */
const changeCallMsMin = 250;

/**
 * How long an explicit delete call, or a lock-change call however far off its locks run out
 * (unknown: none given, or not finite; or hours away), may go unanswered before it is given up, at
 * least: aborted, its messages reported (`Timeout`) or its changes unconfirmed, as when the
 * client's own retries fail. The client's default `timeoutMs`. Without a bound, a call that never
 * settles — a custom client's, or a client's whose `timeoutMs` is `Infinity`, on a node that never
 * answers — would hold `flush()` (the consumer's stop) for ever, and a lock change one of the
 * `changeCallsMax` calls; with half of a long lock's time as its only bound, a 12 h lock's release
 * (at stop) would hold it for 6 h.
 */
const callMsFloor = 30_000;

/** The longest delay a timer takes: a longer one overflows to 1 ms (Node, Deno, browsers). */
const timerMsMax = 2 ** 31 - 1;

/**
 * How long an explicit delete or a lock-change call of `client`'s may go unanswered at most:
 * `callMsFloor`, or the client's `timeoutMs` when that is longer and finite. The client's timeout
 * governs each of its calls: a user who gave it 2 min for a slow broker expects a delete, a
 * retry delay or a release answered after 1 min to count, not to be given up at 30 s (the message
 * delivered again, or locked until its lock runs out). `Infinity` (no bound of the client's)
 * leaves the 30 s, so the consumer's stop still ends; so does a custom client without one. A lock
 * change is given up sooner when half of its soonest lock's time left is: a renewal still ends
 * with time to renew again before the lock it renews could end, however long the client waits.
 */
function callBoundMs(client: ConsumerClient): number {
  const timeoutMs = clientBoundMs(client, "timeoutMs");
  if (timeoutMs === undefined || !Number.isFinite(timeoutMs)) return callMsFloor;
  return Math.min(Math.max(callMsFloor, timeoutMs), timerMsMax);
}

/**
 * The client's `timeoutMs` or `headTimeoutMs`, or undefined when it has none, or reading it
 * throws: a wrapper of a `CmqdClient` (a `Proxy` passing itself as the getter's `this`) can't read
 * the private field behind it, and a throw here, in a timer's callback, would end the process.
 * Its calls, if they fail too, are reported as any.
 */
function clientBoundMs(
  client: ConsumerClient,
  name: "timeoutMs" | "headTimeoutMs",
): number | undefined {
  try {
    const value = client[name];
    return typeof value === "number" ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Lock-change calls on the wire at once, at most. Changes due while they are all on the wire
 * wait, soonest lock first, and leave together (up to a batch) when one settles.
 */
export const changeCallsMax = 4;

/**
 * Of those, calls that carry no renewal (retry delays and releases only), at most: the others
 * stay for renewals, so a renewal never waits for a call whose lock is far off.
 */
const otherChangeCallsMax = 2;

/** Options of an `Acknowledger`. */
export interface AcknowledgerOptions {
  client: ConsumerClient;
  queue: string;
  deleteLingerMs: number;
  /** Every failure, with its message when it concerns one. */
  report(error: unknown, message?: ReceivedMessage): void;
  /** Deleted messages, counted. */
  onDeleted(count: number): void;
  /**
   * How long a lock-change call may go unanswered before it is given up at most, whatever its
   * locks' deadlines (default 30 s, or the client's `timeoutMs` when that is longer and finite).
   */
  changeCallMsMax?: number;
  /**
   * How long an explicit delete call may go unanswered before it is given up (default 30 s, or
   * the client's `timeoutMs` when that is longer and finite).
   */
  deleteCallMsMax?: number;
}

/** The API's batch bound (entries per delete, visibility change or piggybacked delete). */
export const batchEntriesMax = 256;

/**
 * Deletes and lock changes of one consumer.
 *
 * @example
 * ```ts
 * const acks = new Acknowledger({ client, queue: "jobs", deleteLingerMs: 20,
 *   report: console.error, onDeleted: () => {} });
 * acks.delete(message);                      // rides on the next receive…
 * const taken = acks.takeDeletes();          // …which takes it
 * const answer = await client.receiveMessages("jobs", { deleteReceiptHandles: taken.handles });
 * acks.settleDeletes(taken, answer);
 * ```
 */
export class Acknowledger {
  readonly #options: AcknowledgerOptions;
  #pendingDeletes = new Map<string, PendingDelete>();
  #deleteTimer: ReturnType<typeof setTimeout> | undefined;
  #changes: PendingChange[] = [];
  #changeTimer: ReturnType<typeof setTimeout> | undefined;
  /** Visibility calls on the wire (until answered or given up). */
  #changing = new Set<Promise<void>>();
  /** Of `#changing`, the calls that carry no renewal. */
  #otherCalls = 0;
  /** Receipt handles with a change in a call on the wire: their next change waits for it. */
  #changingHandles = new Set<string>();
  /** Explicit deletes on the wire. */
  #deleting = new Set<Promise<void>>();

  constructor(options: AcknowledgerOptions) {
    this.#options = options;
  }

  /** Deletes awaiting a receive to carry them. */
  get pendingDeletes(): number {
    return this.#pendingDeletes.size;
  }

  /** Queues the delete of a handled message. */
  delete(message: ReceivedMessage): void {
    this.#pendingDeletes.set(message.receiptHandle, { message, uncertain: false });
    this.#armDeleteTimer();
  }

  /** Hands pending deletes to a receive (`deleteReceiptHandles`). */
  takeDeletes(): TakenDeletes {
    if (this.#pendingDeletes.size === 0) return { handles: [], messages: new Map() };
    if (this.#pendingDeletes.size <= batchEntriesMax) {
      // All of them: the map itself changes hands (no copy per receive).
      const messages = this.#pendingDeletes;
      this.#pendingDeletes = new Map();
      return { handles: [...messages.keys()], messages };
    }
    const messages = new Map<string, PendingDelete>();
    for (const [handle, pending] of this.#pendingDeletes) {
      if (messages.size === batchEntriesMax) break;
      messages.set(handle, pending);
      this.#pendingDeletes.delete(handle);
    }
    return { handles: [...messages.keys()], messages };
  }

  /** The receive that carried `taken` was answered: report the handles it could not delete. */
  settleDeletes(taken: TakenDeletes, answer: { deleted?: number; failures?: HandleFailure[] }) {
    if (taken.handles.length === 0) return;
    this.#settle(taken.messages, answer.deleted ?? 0, answer.failures ?? []);
  }

  /**
   * The receive that carried `taken` failed with `error`: its deletes wait for the next receive.
   * Unanswered, they may or may not have been applied. A 400 naming one of them
   * (`deleteReceiptHandles.N`: the broker refuses the receive for the first bad handle, deleting
   * nothing) fails that delete alone, reported, and the others are as they were before: true
   * then, the receive can go again at once without it.
   */
  restoreDeletes(taken: TakenDeletes, error?: unknown): boolean {
    const index = badEntryIndex(error, taken.handles.length, "deleteReceiptHandles");
    const refused = index === undefined ? undefined : taken.handles[index];
    for (const [handle, pending] of taken.messages) {
      if (handle === refused) this.#options.report(error, pending.message);
      else {
        const uncertain = refused === undefined || pending.uncertain;
        this.#pendingDeletes.set(handle, { message: pending.message, uncertain });
      }
    }
    if (this.#pendingDeletes.size > 0) this.#armDeleteTimer();
    return refused !== undefined;
  }

  /**
   * Changes the lock of `message` to `seconds` from now (0 releases it). `lockDeadlineMs`, the
   * local time by which its current lock has surely not run out, bounds the call: unanswered at
   * half of the time left until then (but not before `changeCallMsMin`, nor after
   * `changeCallMsMax`: 30 s, or the client's longer `timeoutMs`), the change is given up, unconfirmed; without one (or one not
   * finite), after `changeCallMsMax`. `renewal`: it
   * extends a running handler's lock (see `otherChangeCallsMax`).
   * Never rejects.
   */
  changeVisibility(
    message: ReceivedMessage,
    seconds: number,
    lockDeadlineMs?: number,
    renewal = false,
  ): Promise<VisibilityOutcome> {
    return new Promise((resolve) => {
      this.#changes.push({ message, seconds, lockDeadlineMs, renewal, resolve });
      this.#changeTimer ??= setTimeout(() => {
        this.#changeTimer = undefined;
        this.#sendChanges();
      }, 0);
    });
  }

  /**
   * Sends every pending delete and lock change now; resolves when all are answered or given up
   * (a delete after 30 s, a lock change after half its lock's time left, 30 s at most).
   */
  async flush(): Promise<void> {
    clearTimeout(this.#deleteTimer);
    this.#deleteTimer = undefined;
    clearTimeout(this.#changeTimer);
    this.#changeTimer = undefined;
    while (this.#pendingDeletes.size > 0) this.#sendDeletes();
    this.#sendChanges();
    // A change waiting for its message's call on the wire goes when that call settles.
    while (this.#changing.size > 0 || this.#deleting.size > 0) {
      await Promise.all([...this.#changing, ...this.#deleting]);
    }
  }

  #armDeleteTimer(): void {
    this.#deleteTimer ??= setTimeout(() => {
      this.#deleteTimer = undefined;
      while (this.#pendingDeletes.size > 0) this.#sendDeletes();
    }, this.#options.deleteLingerMs);
  }

  /**
   * One explicit delete call with up to a batch of pending deletes; settled when answered, or
   * given up after `deleteCallMsMax` (30 s, or the client's longer `timeoutMs`) and aborted.
   */
  #sendDeletes(): void {
    const taken = this.takeDeletes();
    if (taken.handles.length === 0) return;
    const { client, queue, report } = this.#options;
    /** The messages not yet settled: a handle the broker refused alone leaves it. */
    const messages = new Map(taken.messages);
    let settled = false;
    // The client already retried (deletes are safe to repeat), or the call was given up: the
    // locks will run out and the messages come back: at-least-once, reported.
    const failed = (error: unknown) => {
      if (settled) return;
      settled = true;
      for (const pending of messages.values()) report(error, pending.message);
    };
    const controller = new AbortController();
    const budgetMs = this.#options.deleteCallMsMax ?? callBoundMs(client);
    let giveUp: ReturnType<typeof setTimeout> | undefined;
    const abandoned = new Promise<void>((resolve) => {
      giveUp = setTimeout(() => {
        const error = new CmqdError(
          "Timeout",
          `no answer to a delete within ${budgetMs} ms: the call was given up, its messages may ` +
            "or may not have been deleted",
          { status: 0 },
        );
        controller.abort(error);
        failed(error);
        resolve();
      }, budgetMs);
    });
    // The broker refuses a request with one bad handle (a 400 naming `receiptHandles.N`) whole,
    // before it deletes anything: that message fails alone, and the others go again (until the
    // call is given up), as they would have without it.
    const attempt = (): Promise<void> => {
      const handles = [...messages.keys()];
      return calling(() => client.deleteMessages(queue, handles, { signal: controller.signal }))
        .then((answer) => {
          if (settled) return;
          const failures = listOf<HandleFailure>(answer, "failures", "delete");
          const deleted = countOf(answer, "deleted", "delete");
          this.#settle(messages, deleted, failures);
          settled = true;
        }, (error) => {
          const index = settled || controller.signal.aborted
            ? undefined
            : badEntryIndex(error, handles.length, "receiptHandles");
          if (index === undefined || handles.length === 1) return failed(error);
          report(error, messages.get(handles[index])?.message);
          messages.delete(handles[index]);
          return attempt();
        });
    };
    const answered = attempt().catch((error) => failed(unexpected("delete", error)));
    const call = Promise.race([answered, abandoned]).finally(() => {
      clearTimeout(giveUp);
      this.#deleting.delete(call);
    });
    this.#deleting.add(call);
  }

  #settle(messages: Map<string, PendingDelete>, deleted: number, failures: HandleFailure[]) {
    let confirmed = deleted;
    /** Whether this answer says `gone` for some handle (worked out when first needed). */
    let saysGone: boolean | undefined;
    for (const failure of failures) {
      const pending = messages.get(failure.receiptHandle);
      // The message is no longer in the queue (deleted — by a lost attempt of ours or by
      // anyone —, expired, dead-lettered, purged): it will not come back, so the ack holds.
      if (pending !== undefined && failure.gone === true) {
        confirmed++;
        continue;
      }
      // A handle sent before in a request whose answer was lost, answered plain "stale". From a
      // broker that predates `gone` that almost surely means the lost request deleted it (else
      // the lock ran out and it was delivered again, which it can't tell us either), so it
      // counts, silently. A broker that says `gone` would have said it had the message left the
      // queue: its plain "stale" is a delivery again, to report. Which broker answered is known
      // only when this same answer says `gone` for another handle (one answer is one node's; in
      // a rolling upgrade the next answer may come from a node of the older release, so no
      // earlier answer tells); without that, it counts as before.
      if (pending?.uncertain && failure.code === "ReceiptHandleStale") {
        saysGone ??= failures.some((other) => other.gone === true);
        if (!saysGone) {
          confirmed++;
          continue;
        }
      }
      this.#options.report(failureError(failure, "delete"), pending?.message);
    }
    this.#options.onDeleted(confirmed);
  }

  /**
   * Sends the queued lock changes, up to a batch per call and `changeCallsMax` calls on the wire,
   * soonest lock first, except those whose message has a change on the wire (they wait for it, in
   * order). Once `otherChangeCallsMax` calls carry no renewal, a call leaves only with a renewal
   * in it (renewals first, the others riding along).
   */
  #sendChanges(): void {
    while (this.#changes.length > 0 && this.#changing.size < changeCallsMax) {
      const renewalsOnly = this.#otherCalls >= otherChangeCallsMax;
      // Each message's first queued change whose message has none on the wire: one per message,
      // so sorting them can't reorder one message's changes.
      const firsts = new Map<string, PendingChange>();
      for (const change of this.#changes) {
        const handle = change.message.receiptHandle;
        if (!this.#changingHandles.has(handle) && !firsts.has(handle)) firsts.set(handle, change);
      }
      const ready = [...firsts.values()];
      if (ready.length === 0 || (renewalsOnly && !ready.some((change) => change.renewal))) return;
      if (ready.length > 1) {
        ready.sort((a, b) =>
          (renewalsOnly ? Number(b.renewal) - Number(a.renewal) : 0) ||
          (a.lockDeadlineMs ?? Infinity) - (b.lockDeadlineMs ?? Infinity)
        );
      }
      const batch = ready.slice(0, batchEntriesMax);
      const taken = new Set(batch);
      for (const change of batch) this.#changingHandles.add(change.message.receiptHandle);
      this.#changes = this.#changes.filter((change) => !taken.has(change));
      this.#sendChangeBatch(batch);
    }
  }

  /**
   * One lock-change call; settled when answered, or given up at half of the time its soonest lock
   * had left, or at `changeCallMsMax` if that is sooner (or none of its locks has a deadline).
   */
  #sendChangeBatch(batch: PendingChange[]): void {
    const { client, queue } = this.#options;
    // A change already resolved keeps its outcome; the rest may or may not have been applied,
    // unless the broker refused the request itself for good (the queue is gone, the key may no
    // longer change its locks): then every lock it carries will run out.
    const failed = (changes: PendingChange[], error: unknown) => {
      const lockLost = refusedForGood(error);
      for (const change of changes) change.resolve({ ok: false, lockLost, error });
    };
    const controller = new AbortController();
    let settle!: () => void;
    const call = new Promise<void>((resolve) => settle = resolve);
    let settled = false;
    const other = !batch.some((change) => change.renewal);
    const done = () => {
      if (settled) return;
      settled = true;
      clearTimeout(giveUp);
      for (const change of batch) this.#changingHandles.delete(change.message.receiptHandle);
      this.#changing.delete(call);
      if (other) this.#otherCalls--;
      settle();
      this.#sendChanges();
    };
    this.#changing.add(call);
    if (other) this.#otherCalls++;
    const options: { signal: AbortSignal; headTimeoutMs?: number } = { signal: controller.signal };
    const soonestMs = Math.min(...batch.map((change) => change.lockDeadlineMs ?? Infinity));
    const capMs = this.#options.changeCallMsMax ?? callBoundMs(client);
    // Half the time left, but no longer than a call without a deadline gets: a 12 h lock's
    // release would otherwise hold its call slot (and `flush`) for 6 h on a silent node. The cap
    // only ever shortens it: a renewal is still given up before its lock could end.
    const halfLeftMs = Math.max(changeCallMsMin, (soonestMs - Date.now()) / 2);
    const capped = !(halfLeftMs < capMs);
    const budgetMs = capped ? capMs : halfLeftMs;
    const giveUp = setTimeout(() => {
      const error = givenUp(capped ? budgetMs : undefined);
      controller.abort(error);
      for (const change of batch) {
        change.resolve({ ok: false, lockLost: false, error, givenUp: true });
      }
      done();
    }, budgetMs);
    // A silent node is left within the call, in time for another node to answer before the
    // call is given up; a client whose head timeout is shorter (or off: not finite) keeps it.
    const headTimeoutMs = clientBoundMs(client, "headTimeoutMs");
    if (
      headTimeoutMs !== undefined && Number.isFinite(headTimeoutMs) &&
      headTimeoutMs > budgetMs / 2
    ) {
      options.headTimeoutMs = Math.floor(budgetMs / 2);
    }
    // The broker refuses a request with one bad entry (a 400 naming `entries.N…`) whole, before
    // it touches any lock: that entry fails alone, its lock lost, and the others go again (until
    // the call is given up), as they would have without it.
    const attempt = (changes: PendingChange[]): Promise<void> =>
      calling(() => client.changeVisibility(queue, changes.map(entryOf), options)).then(
        (answer) => {
          const visibleAt = new Map(
            listOf<VisibilityEntryAnswer>(answer, "entries", "lock change")
              .map((entry) => [entry.receiptHandle, entry]),
          );
          const failures = new Map(
            listOf<HandleFailure>(answer, "failures", "lock change")
              .map((failure) => [failure.receiptHandle, failure]),
          );
          for (const change of changes) {
            const handle = change.message.receiptHandle;
            const failure = failures.get(handle);
            const entry = visibleAt.get(handle);
            if (failure !== undefined) {
              change.resolve({ ok: false, lockLost: true, error: failureError(failure, "lock") });
            } else if (entry !== undefined) {
              change.resolve({ ok: true, visibleAt: entry.visibleAt });
            } else {
              // Neither applied nor refused: unconfirmed. The lock may be lost (a renewal is not
              // counted and the lock's deadline stays where it was), and may still hold.
              change.resolve({ ok: false, lockLost: false, error: unanswered() });
            }
          }
        },
        (error) => {
          const index = controller.signal.aborted
            ? undefined
            : badEntryIndex(error, changes.length, "entries");
          if (index === undefined || changes.length === 1) return failed(changes, error);
          changes[index].resolve({ ok: false, lockLost: true, error });
          return attempt(changes.filter((_, position) => position !== index));
        },
      );
    attempt(batch).catch((error) => failed(batch, unexpected("lock change", error))).finally(done);
  }
}

/** A lock change as the API's request carries it. */
function entryOf(
  change: PendingChange,
): { receiptHandle: string; visibilityTimeoutSeconds: number } {
  return { receiptHandle: change.message.receiptHandle, visibilityTimeoutSeconds: change.seconds };
}
