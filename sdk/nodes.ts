/**
 * Which node a client's next attempt goes to: the leader its answers named (`x-cmqd-leader`),
 * else the listed node it is on, moving on through the list when a node gives no answer. A node
 * that stopped answering (no response head in time: a frozen process, a paused VM) is *suspect*
 * for a short while: attempts go to the other nodes first, even when a hint still names it (a
 * follower that has not noticed the freeze yet repeats the old leader). A node silent only past a
 * call's own shorter deadline (a lock change in a hurry) may just be slow: it is left for that call,
 * and becomes suspect when it happens again before it answered anything (`strike`). Any answer from
 * it clears the suspicion; when every known node is suspect, the choice is made as if none were.
 *
 * @module
 */

/** How long a node that gave no answer is avoided. Elections take 1–2 s; hints move on by then. */
export const suspectMsDefault = 10_000;

/** The nodes of one client and the choice of the next one (see the module doc). */
export class Nodes {
  readonly #urls: string[];
  readonly #now: () => number;
  readonly #suspectMs: number;
  /** Suspect URLs and until when (by `now`). */
  readonly #suspects = new Map<string, number>();
  /** URLs silent once past a call's own shorter deadline, and until when that counts. */
  readonly #strikes = new Map<string, number>();
  /** Which of `#urls` calls go to while no leader is known. */
  #index = 0;
  /** The leader the last hint named, if any. */
  leaderUrl: string | undefined;

  constructor(
    urls: string[],
    now: () => number = () => performance.now(),
    suspectMs = suspectMsDefault,
  ) {
    this.#urls = urls;
    this.#now = now;
    this.#suspectMs = suspectMs;
  }

  /** The listed node calls go to when no leader is known. */
  get nodeUrl(): string {
    return this.#urls[this.#index];
  }

  /** Where the next attempt goes. */
  target(): string {
    if (this.#suspects.size === 0) return this.leaderUrl ?? this.#urls[this.#index];
    if (this.leaderUrl !== undefined && !this.isSuspect(this.leaderUrl)) return this.leaderUrl;
    for (let step = 0; step < this.#urls.length; step++) {
      const index = (this.#index + step) % this.#urls.length;
      if (this.isSuspect(this.#urls[index])) continue;
      this.#index = index;
      return this.#urls[index];
    }
    return this.leaderUrl ?? this.#urls[this.#index];
  }

  /** True when a node other than `url` is known (listed or hinted) and not suspect. */
  hasOther(url: string): boolean {
    if (this.leaderUrl !== undefined && this.leaderUrl !== url && !this.isSuspect(this.leaderUrl)) {
      return true;
    }
    return this.#urls.some((other) => other !== url && !this.isSuspect(other));
  }

  /** True while `url` is avoided. */
  isSuspect(url: string): boolean {
    if (this.#suspects.size === 0) return false;
    const until = this.#suspects.get(url);
    if (until === undefined) return false;
    if (until > this.#now()) return true;
    this.#suspects.delete(url);
    return false;
  }

  /** `url` gave no answer in time: avoid it for a while. */
  suspect(url: string): void {
    this.#suspects.set(url, this.#now() + this.#suspectMs);
  }

  /**
   * `url` gave no answer within a call's own deadline, shorter than the client's: suspect when
   * that is the second time within `suspectMs` without an answer from it between.
   */
  strike(url: string): void {
    const until = this.#strikes.get(url);
    if (until !== undefined && until > this.#now()) {
      this.#strikes.delete(url);
      this.suspect(url);
    } else {
      this.#strikes.set(url, this.#now() + this.#suspectMs);
    }
  }

  /** `url` answered. */
  answered(url: string): void {
    if (this.#suspects.size > 0) this.#suspects.delete(url);
    if (this.#strikes.size > 0) this.#strikes.delete(url);
  }

  /**
   * After an attempt on `failedUrl` got no answer: forget it as the leader, and step past it in
   * the list. True when the next attempt goes elsewhere because of it.
   */
  moveOn(failedUrl: string): boolean {
    let moved = false;
    if (this.leaderUrl === failedUrl) {
      this.leaderUrl = undefined;
      moved = true;
    }
    if (this.#urls.length > 1 && this.#urls[this.#index] === failedUrl) {
      this.#index = (this.#index + 1) % this.#urls.length;
      moved = true;
    }
    return moved;
  }
}
