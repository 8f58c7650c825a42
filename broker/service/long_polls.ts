/**
 * Long-poll parking: receives that found nothing wait here, per queue, in the order they first
 * parked: a receive woken for messages that another receive took first parks again in its place
 * (`Parker`), not behind the receives that parked after it.
 *
 * A queue that may have messages again (an apply reported it, or a lock or delay ended) wakes
 * only as many parked receives as it has messages for: each woken receive holds a claim on up to
 * its `maxMessages` until it has proposed its receive and seen the result, and a queue wakes the
 * next ones only for messages beyond the claims. One send with 1,000 receives parked on its
 * queue therefore costs the send and one receive, not 1,001 log entries. A woken receive that
 * finds less than it claimed hands the rest on when it releases its claim.
 *
 * A send can also take parked receives along (`takeRiders`): the service proposes one entry that
 * sends and runs their receives (a SendReceive), and each rider answers with its part of the
 * result once that entry is committed, so send and lock cost one replicated write.
 *
 * A receive whose deadline passed is never woken for messages nor taken along by a send, even
 * before its deadline's timer ran (a busy event loop): it is woken as its timer would, and answers
 * empty. So no lock is written for a receive after its wait ended, when its client may have given
 * up (an HTTP timeout near `waitSeconds`), leaving the message invisible for a visibility timeout.
 *
 * Every parked receive also answers at its deadline, on abort, when the service answers them all
 * (`wakeAll`, `failAll`: shutdown, leadership moved) and when its queue is deleted (`wakeQueue`).
 * After `failAll` and until the next `wakeAll` (the node leads again), a receive that would park
 * answers that failure at once, as the parked ones did: it would wait on a node that can't serve it.
 *
 * Bounded and fair: at most `parkedMax` receives park at once, and the receives of one access key
 * (`keyId`) at most `keyShare` of them, so that one key (a runaway worker pool, a stolen key)
 * can't take every place and leave the other keys' long polls refused. `refusal` says why a
 * receive may not park now; receives without a key (no credentials) count only to `parkedMax`.
 *
 * @module
 */
import type { Delivery } from "../engine/mod.ts";
import type { Timers } from "../replication/mod.ts";
import type { AbortSource } from "./types.ts";

/** What the parking lot needs to know of the service around it. */
export interface LongPollsOptions {
  timers: Timers;
  /** The wall clock the deadlines are in. */
  now(): number;
  /** When a lock or delay on `queue` ends next (maybe earlier), or null. */
  nextVisibleAt(queue: string): number | null;
  /** About how many messages a receive on `queue` could take now, up to `limit`. */
  receivableCount(queue: string, now: number, limit: number): number;
  /** Receives parked at once at most. Default: no bound. */
  parkedMax?: number;
  /** Share of `parkedMax` the receives of one key may hold, in (0, 1]. Default 1. */
  keyShare?: number;
}

/** A woken receive's hold on messages of its queue; release it once its receive is answered. */
export interface Claim {
  release(): void;
}

/** What a parked receive asks for. */
export interface PollRequest {
  maxMessages: number;
  /** Absent: the queue's default. */
  visibilityTimeoutSeconds?: number;
}

/** What a receive that rode a send got: its deliveries, in the shape of a receive's result. */
export interface RideResult {
  messages: Delivery[];
}

/** Why a parked receive woke. */
export interface Wake {
  /** The receive should answer with this error (e.g. leadership moved). */
  failure?: Error;
  /** Its queue was deleted (`wakeQueue`): answer QueueNotFound, whatever holds its name now. */
  gone?: true;
  /** Held when the queue woke it for messages, or it rides a send. */
  claim?: Claim;
  /** Set when it rides a send: its receive's result once the send's entry is committed. */
  ride?: Promise<RideResult>;
}

/**
 * Who parks: the access key it counts against (none: no credentials; see `refusal`) and its
 * place in line. A receive parks with an object of its own: its first park gives it a place
 * behind every receive parked so far, and a receive woken that must park again (its receive got
 * nothing: another took the message first, or every parked receive was woken) parks with the
 * same object, so with that place: those that parked after it don't pass it over. The receives
 * of a queue are served in the order they first parked.
 */
export interface Parker {
  keyId?: string;
  place?: number;
}

/** Where a receive's long poll stands (the service's, across its parks and wakes). */
export interface PollState extends Parker {
  deadline: number;
  /** Read only once the receive has to wait: see `AbortSource`. */
  aborts?: AbortSource;
  /** The wake of a park made before polling (`#deleteWhileParked`). */
  first?: Wake;
  /** It waits (`waitSeconds` > 0): past its deadline it writes no receive of its own. */
  waits?: boolean;
  /** `LongPolls.round` when it last parked (or began): see `LongPolls.missedSince`. */
  round: number;
}

/** A parked receive taken along by a send; `answer` it with the result of its receive. */
export interface Rider {
  request: PollRequest;
  answer(result: Promise<RideResult>): void;
}

interface Waiter {
  request: PollRequest;
  /** When its wait ends (see `LongPolls.#expired`). */
  deadline: number;
  /** Its place in line (`Parker`). */
  place: number;
  /** Kept among a queue's returning receives (`QueuePolls`), not its fresh ones. */
  returning: boolean;
  wake(wake: Wake): void;
}

/** The receives of one queue. */
class QueuePolls {
  /**
   * Parked receives in the order of their places: those that came in place order (nearly all:
   * a Set keeps insertion order), and apart, sorted, those that parked again behind receives
   * that parked after them first (see `Parker`), usually none.
   */
  readonly #fresh = new Set<Waiter>();
  readonly #returning: Waiter[] = [];
  /** At least the place of the last of `#fresh` (more once that one left). */
  #freshTail = -Infinity;
  /** Messages parked receives would take in all. */
  parkedWant = 0;
  /** Messages woken receives may take before they answer. */
  claimed = 0;
  /** The one timer of the queue: when its next lock or delay ends. */
  timer: unknown = null;
  timerAt = Infinity;

  get size(): number {
    return this.#fresh.size + this.#returning.length;
  }

  add(waiter: Waiter): void {
    if (this.#fresh.size === 0) this.#freshTail = -Infinity;
    if (waiter.place > this.#freshTail) {
      this.#fresh.add(waiter);
      this.#freshTail = waiter.place;
      return;
    }
    let [low, high] = [0, this.#returning.length];
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#returning[middle].place < waiter.place) low = middle + 1;
      else high = middle;
    }
    waiter.returning = true;
    this.#returning.splice(low, 0, waiter);
  }

  /** Takes `waiter` out of line; false when it was not in it. */
  remove(waiter: Waiter): boolean {
    if (!waiter.returning) return this.#fresh.delete(waiter);
    const index = this.#returning.indexOf(waiter);
    if (index < 0) return false;
    this.#returning.splice(index, 1);
    waiter.returning = false;
    return true;
  }

  /** The receive first in line. */
  oldest(): Waiter | undefined {
    const fresh = this.#fresh.values().next().value;
    const returning = this.#returning[0];
    if (returning === undefined) return fresh;
    return fresh === undefined || returning.place < fresh.place ? returning : fresh;
  }

  /** Every parked receive, first in line first. */
  all(): Waiter[] {
    return [...this.#returning, ...this.#fresh].sort((a, b) => a.place - b.place);
  }
}

/** Bound on the count a queue is asked for (a scan of its backlog). */
const countLimitMax = 4_096;

/**
 * Receives parked per queue.
 *
 * @example
 * ```ts
 * const polls = new LongPolls({ timers: clock, now: () => clock.now(),
 *   nextVisibleAt: (queue) => machine.nextVisibleAt(queue),
 *   receivableCount: (queue, now, limit) => machine.receivableCount(queue, now, limit) });
 * machine.onAvailable = (queue) => polls.available(queue);
 * const wake = await polls.park("jobs", { maxMessages: 16 }, clock.now() + 20_000);
 * wake.claim?.release(); // after the receive it woke for
 * ```
 */
export class LongPolls {
  readonly #options: LongPollsOptions;
  readonly #queues = new Map<string, QueuePolls>();
  #size = 0;
  readonly #parkedMax: number;
  /** Receives one key may hold parked at once. */
  readonly #perKeyMax: number;
  /** Receives parked now by key (keys with none are not listed). */
  readonly #byKey = new Map<string, number>();

  constructor(options: LongPollsOptions) {
    this.#options = options;
    this.#parkedMax = options.parkedMax ?? Infinity;
    const share = options.keyShare ?? 1;
    if (!(share > 0 && share <= 1)) {
      throw new RangeError(`the key share of parked receives must be in (0, 1], got ${share}`);
    }
    this.#perKeyMax = Math.max(1, Math.floor(this.#parkedMax * share));
  }

  /**
   * Times every parked receive was answered at once (`wakeAll`, `failAll`), and the last wake:
   * a failure there stands (see `park`) until the next `wakeAll`.
   */
  #round = 0;
  #roundWake: Wake = {};

  /** Counts `wakeAll` and `failAll` calls: see `missedSince`. */
  get round(): number {
    return this.#round;
  }

  /**
   * The wake a receive would have got had it been parked, not on its way (its receive proposed),
   * when every parked receive was last answered, if that was after `round`: undefined if not.
   */
  missedSince(round: number): Wake | undefined {
    return round === this.#round ? undefined : this.#roundWake;
  }

  /** Places in line given so far (see `Parker`). */
  #places = 0;

  /** Receivers parked now. */
  get size(): number {
    return this.#size;
  }

  /** Receivers of `keyId` parked now. */
  parkedOf(keyId: string): number {
    return this.#byKey.get(keyId) ?? 0;
  }

  /**
   * Why a receive of `keyId` (none: no credentials) may not park now, or null when it may: the
   * node holds `parkedMax` parked receives, or the key its share of them.
   */
  refusal(keyId?: string): string | null {
    if (this.#size >= this.#parkedMax) {
      return `${this.#size} receives already wait on this node (parkedReceivesMax)`;
    }
    const held = keyId === undefined ? 0 : this.parkedOf(keyId);
    if (held < this.#perKeyMax) return null;
    return `key '${keyId}' already has ${held} receives waiting on this node, its share of ` +
      `parkedReceivesMax`;
  }

  /**
   * Waits until `queue` has messages for this receive, its deadline, or abort. Resolves with
   * what woke it; a `claim` must be released. `parker`: its key and place in line (`Parker`;
   * the caller asks `refusal` first: `park` itself parks whatever the bounds), its place set here
   * on its first park. Between a `failAll` and the next `wakeAll`, answers that failure at once
   * and parks nothing.
   */
  park(
    queue: string,
    request: PollRequest,
    deadline: number,
    signal?: AbortSignal,
    parker: Parker = {},
  ): Promise<Wake> {
    if (signal?.aborted) return Promise.resolve({}); // its "abort" event has fired already
    if (this.#roundWake.failure !== undefined) return Promise.resolve(this.#roundWake);
    const { keyId } = parker;
    const place = parker.place ??= ++this.#places;
    const want = request.maxMessages;
    const { timers, now } = this.#options;
    let polls = this.#queues.get(queue);
    if (polls === undefined) {
      polls = new QueuePolls();
      this.#queues.set(queue, polls);
    }
    const lot = polls;
    return new Promise((resolve) => {
      const onAbort = () => waiter.wake({});
      const waiter: Waiter = {
        request,
        deadline,
        place,
        returning: false,
        wake: (wake: Wake) => {
          timers.clearTimer(timer);
          signal?.removeEventListener("abort", onAbort);
          if (lot.remove(waiter)) {
            lot.parkedWant -= want;
            this.#size--;
            if (keyId !== undefined) this.#count(keyId, -1);
          }
          this.#tidy(queue, lot);
          resolve(wake);
        },
      };
      lot.add(waiter);
      this.#size++;
      if (keyId !== undefined) this.#count(keyId, 1);
      lot.parkedWant += want;
      const timer = timers.setTimer(Math.max(0, deadline - now()), () => waiter.wake({}));
      signal?.addEventListener("abort", onAbort);
      this.#arm(queue, lot);
    });
  }

  /** An apply changed `queue`: a lock or delay it made may end before the ones known. */
  touched(queue: string): void {
    const polls = this.#queues.get(queue);
    if (polls !== undefined && polls.size > 0) this.#arm(queue, polls);
  }

  /** `queue` may have messages now (an apply said so): wakes receives for them. */
  available(queue: string): void {
    const polls = this.#queues.get(queue);
    if (polls !== undefined && polls.size > 0) this.#offer(queue, polls);
  }

  /**
   * Takes the oldest receives parked on `queue` off to ride a send of `ready` messages a receive
   * could take at once: as many as it takes for their maxMessages to cover them.
   */
  takeRiders(queue: string, ready: number): Rider[] {
    const polls = this.#queues.get(queue);
    const riders: Rider[] = [];
    for (let covered = 0; polls !== undefined && covered < ready;) {
      const waiter = polls.oldest();
      if (waiter === undefined) break;
      if (this.#expired(waiter)) continue;
      const want = waiter.request.maxMessages;
      covered += want;
      let answer!: (result: Promise<RideResult>) => void;
      const ride = new Promise<RideResult>((resolve) => (answer = resolve));
      // A failed send rejects it, maybe while its receive still waits for its own deletes to be
      // written (receives.ts, #deleteWhileParked) and has not taken it yet: marked handled here so
      // the rejection waits for the receive instead of ending the process (unhandled).
      ride.catch(() => {});
      waiter.wake({ claim: this.#claim(queue, polls, want), ride });
      riders.push({ request: waiter.request, answer });
    }
    return riders;
  }

  /**
   * `queue` was deleted (a DeleteQueue applied, whoever proposed it): wakes every receive parked
   * on it with `gone`, before a queue created again under its name can offer them its messages.
   */
  wakeQueue(queue: string): void {
    for (const waiter of this.#queues.get(queue)?.all() ?? []) waiter.wake({ gone: true });
  }

  /** Wakes every parked receiver (each re-checks its queue once). */
  wakeAll(): void {
    this.#round++;
    this.#roundWake = {};
    for (const polls of [...this.#queues.values()]) {
      for (const waiter of polls.all()) waiter.wake({});
    }
  }

  /** Answers every parked receiver with `failure` now, and every receive parking until `wakeAll`. */
  failAll(failure: Error): void {
    this.#round++;
    this.#roundWake = { failure };
    for (const polls of [...this.#queues.values()]) {
      for (const waiter of polls.all()) waiter.wake({ failure });
    }
  }

  #count(keyId: string, change: number): void {
    const held = (this.#byKey.get(keyId) ?? 0) + change;
    if (held === 0) this.#byKey.delete(keyId);
    else this.#byKey.set(keyId, held);
  }

  /** Wakes the oldest parked receives for the messages beyond the claims. */
  #offer(queue: string, polls: QueuePolls): void {
    const limit = Math.min(countLimitMax, polls.claimed + polls.parkedWant);
    let free = this.#options.receivableCount(queue, this.#options.now(), limit) - polls.claimed;
    while (free > 0) {
      const waiter = polls.oldest();
      if (waiter === undefined) break;
      if (this.#expired(waiter)) continue;
      const want = waiter.request.maxMessages;
      free -= want;
      waiter.wake({ claim: this.#claim(queue, polls, want) });
    }
  }

  /**
   * Wakes `waiter` as its deadline's timer would if its deadline passed (that timer may not have
   * run yet); true then: it takes no messages.
   */
  #expired(waiter: Waiter): boolean {
    if (waiter.deadline > this.#options.now()) return false;
    waiter.wake({});
    return true;
  }

  #claim(queue: string, polls: QueuePolls, want: number): Claim {
    polls.claimed += want;
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        polls.claimed -= want;
        // What the receive left (or did not get to) goes to the next parked ones.
        if (polls.size > 0) this.#offer(queue, polls);
        this.#tidy(queue, polls);
      },
    };
  }

  /** Keeps the queue's timer at its next lock or delay end while receives are parked. */
  #arm(queue: string, polls: QueuePolls): void {
    const next = this.#options.nextVisibleAt(queue);
    if (next === null || next >= polls.timerAt) return;
    const { timers, now } = this.#options;
    if (polls.timer !== null) timers.clearTimer(polls.timer);
    polls.timerAt = next;
    polls.timer = timers.setTimer(Math.max(0, next - now()), () => {
      polls.timer = null;
      polls.timerAt = Infinity;
      if (polls.size === 0) return;
      this.#offer(queue, polls);
      // A lock that ended but was not yet released by an apply still reads as due: re-arm only
      // for a later time, or this would spin (the receive it woke, or any apply, moves it on).
      const later = this.#options.nextVisibleAt(queue);
      if (polls.size > 0 && later !== null && later > now()) this.#arm(queue, polls);
    });
  }

  /** Forgets a queue nobody waits on or holds a claim of. */
  #tidy(queue: string, polls: QueuePolls): void {
    if (polls.size > 0 || polls.claimed > 0) return;
    if (polls.timer !== null) this.#options.timers.clearTimer(polls.timer);
    polls.timer = null;
    polls.timerAt = Infinity;
    if (this.#queues.get(queue) === polls) this.#queues.delete(queue);
  }
}
