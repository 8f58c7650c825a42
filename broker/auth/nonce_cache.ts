/**
 * The replay cache of signed requests. Pure: time is the caller's `nowMs` argument, there are no
 * timers; old entries are dropped as a side effect of `remember`.
 *
 * **What it must remember, and for how long.** A signed request carries a timestamp T (Unix
 * seconds) that its signature covers, and the verifier refuses it unless |now − T| ≤ the skew
 * window (`timestampSkewMs`, 300 s). A replay is a copy, so it carries the same T and is
 * accepted by that check only until now = T + 300 s. The cache therefore keeps a
 * (secretId, nonce) pair in a bucket of its T, and drops whole buckets once the newest `nowMs`
 * it was given is past T + skew + `clockStepBackMs` (10 s: a wall clock stepped back by up to
 * that much still finds every T it accepts). A replay is looked up in its own T's bucket only,
 * and old pairs go a bucket at a time, with no scan of entries.
 *
 * **Safe whatever the clocks do.** A T whose bucket may have been dropped (older than the
 * newest `nowMs` − skew − step-back) is answered `"outOfWindow"`, never `"fresh"`: the cache
 * answers `"fresh"` to a (secretId, nonce, T) at most once in its life, even if the verifier's
 * clock stepped back by more than the margin or its timestamp check ran long before the
 * `remember` (a follower verifies, the leader remembers later). A clock stepped back further
 * than `clockStepBackMs` only makes requests signed almost 300 s in the past `"outOfWindow"`
 * until the clock catches up. A T further ahead than skew + step-back is refused the same way,
 * so that no caller can pin a bucket far in the future. The same nonce with another T is another
 * signed request (its signature differs), not a replay: a client's nonces must be unique per
 * secretId and timestamp second, which random ones (the SDK's) are.
 *
 * **Compact.** Each bucket is an open-addressing table (linear probing, power-of-two size,
 * grown ×2 past 3/4 full) of 64-bit SipHash-2-4 values of (secretId, nonce) under a key drawn
 * at random per process, two `Uint32Array` words a slot: 10.7–21.3 bytes of table an entry,
 * plus one count per (bucket, secretId) for the share below (`bench/nonce_cache_memory.ts`
 * measures 13–26 bytes an entry on the heap, against 109 for a `Map` of strings). Nobody
 * without the key can craft colliding nonces. A false `"replayed"` needs two of one second's
 * pairs to share all 64 bits: with n pairs in a bucket, a new one collides with probability
 * n / 2⁶⁴ (at 25,000 a second: about 1 in 7·10¹⁴ requests). The hash costs about 0.15 µs.
 *
 * **Bounded and fair.** At most `noncesMax` pairs (default 10,000,000: 130–260 MB when full),
 * one secretId at most `noncesPerSecretIdMax` of them (default 80 %), so a single busy or
 * stolen key can't lock the other keys out: they keep 2,000,000. With clients' clocks in step
 * a pair is held about 311 s, so one key's default share fits a sustained 25,700 signed
 * requests/s, the whole cache 32,000/s (clients 300 s ahead hold pairs up to 611 s: half
 * that). Past a bound a new pair is **refused** (`"full"` or `"shareFull"`, which the verifier
 * turns into the retryable `NonceCacheFull`, a 503 with `Retry-After`) rather than room made
 * by forgetting a pair still in its window: forgetting one would let it be replayed, refusing
 * costs a retry. Only requests whose signature verified reach the cache; `Bearer` requests use
 * no nonce.
 *
 * @module
 */
import { randomSipHashKey, sipHash24 } from "./sip_hash.ts";

/** Options of a `NonceCache`. */
export interface NonceCacheOptions {
  /** Most (secretId, nonce) pairs remembered at once. Default 10,000,000. */
  noncesMax?: number;
  /** Share of `noncesMax` one secretId may hold, in (0, 1]. Default 0.8. */
  secretIdShare?: number;
  /** The verifier's timestamp window: |now − T| at most this. Default 300,000 (300 s). */
  timestampSkewMs?: number;
  /** How far the clock may step back with every accepted T still checked. Default 10,000. */
  clockStepBackMs?: number;
}

/**
 * What `remember` found:
 * - `"fresh"`: a new pair, now remembered;
 * - `"replayed"`: the pair was seen with this timestamp already;
 * - `"outOfWindow"`: the timestamp is older or newer than the cache can check (refuse it as a
 *   stale request: a caller that checked the timestamp sees this only after its clock stepped);
 * - `"full"`: no room for a new pair; `"shareFull"`: no room left in this secretId's share.
 */
export type NonceVerdict = "fresh" | "replayed" | "outOfWindow" | "full" | "shareFull";

/** Default of `NonceCacheOptions.noncesMax`. */
export const noncesMaxDefault = 10_000_000;
/** Default of `NonceCacheOptions.secretIdShare`. */
export const secretIdShareDefault = 0.8;
/** Default of `NonceCacheOptions.timestampSkewMs`: the API contract's timestamp window. */
export const timestampSkewMsDefault = 300_000;
/** Default of `NonceCacheOptions.clockStepBackMs`. */
export const clockStepBackMsDefault = 10_000;

/** Slots of a new bucket. */
const bucketSlotsInitial = 16;

/** The pairs of one timestamp second: a set of 64-bit hashes, and how many per secretId. */
class Bucket {
  /** Slot i is `[words[2i], words[2i + 1]]` (high, low); all zero is an empty slot. */
  words = new Uint32Array(2 * bucketSlotsInitial);
  mask = bucketSlotsInitial - 1;
  size = 0;
  readonly countBySecretId = new Map<string, number>();

  /** The slot holding (high, low), or the empty slot where it would go, as `-1 - slot`. */
  find(high: number, low: number): number {
    const words = this.words;
    for (let slot = low & this.mask;; slot = (slot + 1) & this.mask) {
      const slotHigh = words[2 * slot], slotLow = words[2 * slot + 1];
      if (slotHigh === high && slotLow === low) return slot;
      if (slotHigh === 0 && slotLow === 0) return -1 - slot;
    }
  }

  /** Adds (high, low), which `find` did not find; the caller counts it. */
  add(high: number, low: number): void {
    if (4 * (this.size + 1) > 3 * (this.mask + 1)) this.#grow();
    const slot = -1 - this.find(high, low);
    this.words[2 * slot] = high;
    this.words[2 * slot + 1] = low;
    this.size++;
  }

  #grow(): void {
    const old = this.words;
    this.words = new Uint32Array(2 * old.length);
    this.mask = old.length - 1;
    for (let at = 0; at < old.length; at += 2) {
      const high = old[at], low = old[at + 1];
      if (high === 0 && low === 0) continue;
      const slot = -1 - this.find(high, low);
      this.words[2 * slot] = high;
      this.words[2 * slot + 1] = low;
    }
  }
}

/**
 * Remembers the nonces of verified signed requests, per secretId and timestamp.
 *
 * @example
 * ```ts
 * const cache = new NonceCache();
 * const t = 1_700_000_000; // the request's signed Timestamp
 * cache.remember("AKIDworker", "3f9a", t, t * 1000); // "fresh"
 * cache.remember("AKIDworker", "3f9a", t, t * 1000 + 299_000); // "replayed"
 * cache.remember("AKIDworker", "3f9a", t, t * 1000 + 311_000); // "outOfWindow"
 * ```
 */
export class NonceCache {
  /** Most pairs remembered at once. */
  readonly noncesMax: number;
  /** Most pairs one secretId may hold at once. */
  readonly noncesPerSecretIdMax: number;
  /** The timestamp window the cache covers: |now − T| at most this. */
  readonly timestampSkewMs: number;
  /** How far the clock may step back with every accepted T still checked. */
  readonly clockStepBackMs: number;
  readonly #hashKey = randomSipHashKey();
  /** Timestamp second → its pairs. */
  readonly #buckets = new Map<number, Bucket>();
  readonly #countBySecretId = new Map<string, number>();
  #size = 0;
  /** The newest `nowMs` seen; the horizon follows it, so it never moves back. */
  #latestNowMs = -Infinity;
  /** Timestamps before this second are forgotten (their buckets dropped or never made). */
  #horizonSeconds = -Infinity;
  /** The encoded pair being hashed, and its hash (high, low). */
  #scratch = new Uint8Array(256);
  readonly #out = new Uint32Array(2);

  /** An empty cache; throws `RangeError` when an option is out of range. */
  constructor(options: NonceCacheOptions = {}) {
    this.noncesMax = options.noncesMax ?? noncesMaxDefault;
    const share = options.secretIdShare ?? secretIdShareDefault;
    this.timestampSkewMs = options.timestampSkewMs ?? timestampSkewMsDefault;
    this.clockStepBackMs = options.clockStepBackMs ?? clockStepBackMsDefault;
    positiveInteger("noncesMax", this.noncesMax);
    if (!(share > 0 && share <= 1)) {
      throw new RangeError(`secretIdShare must be in (0, 1], got ${share}`);
    }
    positiveInteger("timestampSkewMs", this.timestampSkewMs);
    if (!Number.isSafeInteger(this.clockStepBackMs) || this.clockStepBackMs < 0) {
      throw new RangeError(`clockStepBackMs must be an integer ≥ 0, got ${this.clockStepBackMs}`);
    }
    this.noncesPerSecretIdMax = Math.max(1, Math.floor(this.noncesMax * share));
  }

  /** Pairs remembered now. */
  get size(): number {
    return this.#size;
  }

  /** Pairs `secretId` holds now. */
  sizeOf(secretId: string): number {
    return this.#countBySecretId.get(secretId) ?? 0;
  }

  /**
   * Checks the pair of a request signed with `timestampSeconds` (its verified Timestamp) and
   * remembers it when it is new; `nowMs` is the wall clock. Throws `RangeError` when
   * `timestampSeconds` is not a safe integer.
   */
  remember(secretId: string, nonce: string, timestampSeconds: number, nowMs: number): NonceVerdict {
    if (!Number.isSafeInteger(timestampSeconds)) {
      throw new RangeError(`timestampSeconds must be an integer, got ${timestampSeconds}`);
    }
    this.#advance(nowMs);
    if (
      timestampSeconds < this.#horizonSeconds ||
      timestampSeconds * 1000 > nowMs + this.timestampSkewMs + this.clockStepBackMs
    ) {
      return "outOfWindow";
    }
    this.#hash(secretId, nonce);
    const high = this.#out[0];
    // All zero marks an empty slot: that one value is taken as 1.
    const low = high === 0 && this.#out[1] === 0 ? 1 : this.#out[1];
    let bucket = this.#buckets.get(timestampSeconds);
    if (bucket !== undefined && bucket.find(high, low) >= 0) return "replayed";
    if (this.#size >= this.noncesMax) return "full";
    const held = this.#countBySecretId.get(secretId) ?? 0;
    if (held >= this.noncesPerSecretIdMax) return "shareFull";
    if (bucket === undefined) {
      bucket = new Bucket();
      this.#buckets.set(timestampSeconds, bucket);
    }
    bucket.add(high, low);
    bucket.countBySecretId.set(secretId, (bucket.countBySecretId.get(secretId) ?? 0) + 1);
    this.#countBySecretId.set(secretId, held + 1);
    this.#size++;
    return "fresh";
  }

  /**
   * Milliseconds (at least 1) until the oldest remembered pair — of `secretId`, when given — is
   * dropped, 0 when there is none. After `"full"` (`"shareFull"`), when room is made again.
   */
  msUntilOldestExpires(nowMs: number, secretId?: string): number {
    let oldest = Infinity;
    for (const [seconds, bucket] of this.#buckets) {
      if (seconds < oldest && (secretId === undefined || bucket.countBySecretId.has(secretId))) {
        oldest = seconds;
      }
    }
    if (oldest === Infinity) return 0;
    // Dropped once the newest nowMs is past oldest·1000 + skew + step-back (see #advance).
    return Math.max(1, oldest * 1000 + this.timestampSkewMs + this.clockStepBackMs + 1 - nowMs);
  }

  /** Moves the horizon with the newest `nowMs` and drops the buckets that fell behind it. */
  #advance(nowMs: number): void {
    if (!(nowMs > this.#latestNowMs)) return;
    this.#latestNowMs = nowMs;
    // T < horizon ⇔ T·1000 + skew + step-back < nowMs: no clock within the step-back of the
    // newest reading accepts T any more.
    const horizon = Math.ceil((nowMs - this.timestampSkewMs - this.clockStepBackMs) / 1000);
    if (horizon <= this.#horizonSeconds) return;
    const from = this.#horizonSeconds;
    this.#horizonSeconds = horizon;
    if (this.#buckets.size === 0) return;
    if (horizon - from <= this.#buckets.size) {
      for (let seconds = from; seconds < horizon; seconds++) this.#drop(seconds);
    } else {
      for (const seconds of [...this.#buckets.keys()]) if (seconds < horizon) this.#drop(seconds);
    }
  }

  #drop(seconds: number): void {
    const bucket = this.#buckets.get(seconds);
    if (bucket === undefined) return;
    this.#buckets.delete(seconds);
    this.#size -= bucket.size;
    for (const [secretId, count] of bucket.countBySecretId) {
      const left = (this.#countBySecretId.get(secretId) ?? 0) - count;
      if (left > 0) this.#countBySecretId.set(secretId, left);
      else this.#countBySecretId.delete(secretId);
    }
  }

  /**
   * SipHash-2-4 of an unambiguous encoding of the pair: secretId's length (4 bytes), then each
   * UTF-16 unit of secretId and nonce as one byte when below 0x80, else 0xFF and two bytes;
   * into `#out` (high, low).
   */
  #hash(secretId: string, nonce: string): void {
    const needed = 4 + 3 * (secretId.length + nonce.length);
    if (this.#scratch.length < needed) this.#scratch = new Uint8Array(2 * needed);
    const bytes = this.#scratch;
    const idLength = secretId.length;
    bytes[0] = idLength;
    bytes[1] = idLength >>> 8;
    bytes[2] = idLength >>> 16;
    bytes[3] = idLength >>> 24;
    let length = encodeUnits(secretId, bytes, 4);
    length = encodeUnits(nonce, bytes, length);
    sipHash24(this.#hashKey, bytes, length, this.#out);
  }
}

function encodeUnits(text: string, bytes: Uint8Array, at: number): number {
  for (let index = 0; index < text.length; index++) {
    const unit = text.charCodeAt(index);
    if (unit < 0x80) {
      bytes[at++] = unit;
    } else {
      bytes[at++] = 0xff;
      bytes[at++] = unit;
      bytes[at++] = unit >>> 8;
    }
  }
  return at;
}

function positiveInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
}
