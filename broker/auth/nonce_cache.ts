/**
 * The replay cache of signed requests: which (secretId, nonce) pairs were seen in the last
 * `nonceTtlMs` (600 s, the API contract). Pure: time is the caller's `nowMs` argument, there are no
 * timers; expired entries are dropped as a side effect of `remember`.
 *
 * Memory is bounded by `noncesMax`. When the cache is full of unexpired nonces, a new signed
 * request is **refused** (`"full"`, which the verifier turns into the retryable
 * `NonceCacheFull`) rather than making room by forgetting an unexpired nonce: forgetting one
 * would let that request be replayed, while refusing costs only a retry. Only requests whose
 * signature was verified reach the cache, so filling it takes a valid key and a sustained rate
 * above `noncesMax / 600 s` (1,666 signed requests/s at the default); `Bearer` requests use no
 * nonce. At the default bound the cache holds about 100–150 MB when full.
 *
 * Entries are kept in insertion order, so expiry pops from the front. If the wall clock steps
 * back, later entries may expire before earlier ones; popping stops at the first unexpired
 * entry, so such entries are kept a little longer than needed, never dropped early.
 *
 * @module
 */

/** Options of a `NonceCache`. */
export interface NonceCacheOptions {
  /** Most (secretId, nonce) pairs remembered at once. Default 1,000,000. */
  noncesMax?: number;
  /** How long a pair is remembered after it was first seen. Default 600,000 (600 s). */
  nonceTtlMs?: number;
}

/** What `remember` found: a new pair (now remembered), a replay, or no room to remember. */
export type NonceVerdict = "fresh" | "replayed" | "full";

/** Default of `NonceCacheOptions.noncesMax`. */
export const noncesMaxDefault = 1_000_000;
/** Default of `NonceCacheOptions.nonceTtlMs`: the API contract's replay window. */
export const nonceTtlMsDefault = 600_000;

/**
 * Remembers recently used nonces per secretId.
 *
 * @example
 * ```ts
 * const cache = new NonceCache({ noncesMax: 100_000 });
 * cache.remember("AKIDworker", "3f9a", 1_700_000_000_000); // "fresh"
 * cache.remember("AKIDworker", "3f9a", 1_700_000_001_000); // "replayed"
 * cache.remember("AKIDworker", "3f9a", 1_700_000_601_000); // "fresh" (forgotten after 600 s)
 * ```
 */
export class NonceCache {
  /** Most pairs remembered at once. */
  readonly noncesMax: number;
  /** How long a pair is remembered, in milliseconds. */
  readonly nonceTtlMs: number;
  /** `secretId + "\n" + nonce` → the time it may be forgotten; neither part holds a newline. */
  readonly #expiresAtByPair = new Map<string, number>();

  /** An empty cache; throws `RangeError` when a bound is not a positive integer. */
  constructor(options: NonceCacheOptions = {}) {
    this.noncesMax = options.noncesMax ?? noncesMaxDefault;
    this.nonceTtlMs = options.nonceTtlMs ?? nonceTtlMsDefault;
    if (!Number.isSafeInteger(this.noncesMax) || this.noncesMax < 1) {
      throw new RangeError(`noncesMax must be a positive integer, got ${this.noncesMax}`);
    }
    if (!Number.isSafeInteger(this.nonceTtlMs) || this.nonceTtlMs < 1) {
      throw new RangeError(`nonceTtlMs must be a positive integer, got ${this.nonceTtlMs}`);
    }
  }

  /** Pairs remembered now (expired ones not yet dropped included). */
  get size(): number {
    return this.#expiresAtByPair.size;
  }

  /**
   * Checks the pair and remembers it when it is new. A pair is remembered up to and including
   * `nowMs = firstSeen + nonceTtlMs`, so a verifier refusing timestamps more than half the TTL
   * away closes the window without a millisecond's gap.
   */
  remember(secretId: string, nonce: string, nowMs: number): NonceVerdict {
    this.#dropExpired(nowMs);
    const pair = `${secretId}\n${nonce}`;
    const expiresAtMs = this.#expiresAtByPair.get(pair);
    if (expiresAtMs !== undefined) {
      if (nowMs <= expiresAtMs) return "replayed";
      // Expired but still here (the clock stepped back earlier): move it to the back with its
      // new expiry, so the front stays the oldest.
      this.#expiresAtByPair.delete(pair);
    }
    if (this.#expiresAtByPair.size >= this.noncesMax) return "full";
    this.#expiresAtByPair.set(pair, nowMs + this.nonceTtlMs);
    return "fresh";
  }

  /**
   * Milliseconds until the oldest remembered pair expires (at least 1), 0 when the cache is
   * empty. When `remember` said `"full"`, this is when a new pair fits again.
   */
  msUntilOldestExpires(nowMs: number): number {
    for (const expiresAtMs of this.#expiresAtByPair.values()) {
      return Math.max(1, expiresAtMs + 1 - nowMs);
    }
    return 0;
  }

  #dropExpired(nowMs: number): void {
    for (const [pair, expiresAtMs] of this.#expiresAtByPair) {
      if (nowMs <= expiresAtMs) return;
      this.#expiresAtByPair.delete(pair);
    }
  }
}
