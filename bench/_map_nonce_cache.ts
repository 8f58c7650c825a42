/**
 * The replay cache as it was before the per-timestamp buckets, kept for comparison in
 * `nonce_cache_bench.ts` and `nonce_cache_memory.ts`: a `Map` from `secretId + "\n" + nonce` to
 * its expiry, every pair kept 600 s from when it was first seen, in insertion order.
 *
 * @module
 */

/** A Map-based replay cache (the previous `NonceCache`). */
export class MapNonceCache {
  readonly #expiresAtByPair = new Map<string, number>();

  constructor(readonly noncesMax = 1_000_000, readonly nonceTtlMs = 600_000) {}

  /** Pairs remembered now. */
  get size(): number {
    return this.#expiresAtByPair.size;
  }

  /** "fresh", "replayed" or "full", as the previous cache answered. */
  remember(secretId: string, nonce: string, nowMs: number): "fresh" | "replayed" | "full" {
    for (const [pair, expiresAtMs] of this.#expiresAtByPair) {
      if (nowMs <= expiresAtMs) break;
      this.#expiresAtByPair.delete(pair);
    }
    const pair = `${secretId}\n${nonce}`;
    const expiresAtMs = this.#expiresAtByPair.get(pair);
    if (expiresAtMs !== undefined) {
      if (nowMs <= expiresAtMs) return "replayed";
      this.#expiresAtByPair.delete(pair);
    }
    if (this.#expiresAtByPair.size >= this.noncesMax) return "full";
    this.#expiresAtByPair.set(pair, nowMs + this.nonceTtlMs);
    return "fresh";
  }
}
