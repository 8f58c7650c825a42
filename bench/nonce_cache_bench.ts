/**
 * `deno bench` of the replay cache's `remember`, at steady state: the previous Map-based cache
 * (every pair for 600 s) against `NonceCache` (per-timestamp buckets of 64-bit SipHash values),
 * each fed a stream of new nonces at a fixed rate of simulated time after a warm-up that fills
 * it to its steady size; and the pair hash alone against a SHA-256 from `node:crypto`.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { NonceCache } from "../broker/auth/mod.ts";
import { randomSipHashKey, sipHash24 } from "../broker/auth/sip_hash.ts";
import { MapNonceCache } from "./_map_nonce_cache.ts";

const startMs = 1_700_000_000_000;
const secretId = "AKIDworker0001";

/** A stream of new nonces at `perSecond`, the signed timestamp in step with the clock. */
function stream(perSecond: number) {
  let count = 0;
  return () => {
    const nowMs = startMs + Math.floor((count * 1000) / perSecond);
    const nonce = `${count.toString(16).padStart(32, "0")}`;
    count++;
    return { nonce, nowMs, timestampSeconds: Math.floor(nowMs / 1000) };
  };
}

function warmedMap(perSecond: number) {
  const cache = new MapNonceCache();
  const next = stream(perSecond);
  for (let index = 0; index < perSecond * 610; index++) {
    const { nonce, nowMs } = next();
    cache.remember(secretId, nonce, nowMs);
  }
  return { cache, next };
}

function warmedBuckets(perSecond: number) {
  const cache = new NonceCache();
  const next = stream(perSecond);
  for (let index = 0; index < perSecond * 320; index++) {
    const { nonce, nowMs, timestampSeconds } = next();
    cache.remember(secretId, nonce, timestampSeconds, nowMs);
  }
  return { cache, next };
}

const oldAt1500 = warmedMap(1_500);
const newAt1500 = warmedBuckets(1_500);
const newAt25000 = warmedBuckets(25_000);

Deno.bench(
  "remember, Map cache (before), 1,500/s steady: 900,000 held",
  { group: "remember" },
  () => {
    const { nonce, nowMs } = oldAt1500.next();
    if (oldAt1500.cache.remember(secretId, nonce, nowMs) !== "fresh") throw new Error("not fresh");
  },
);

Deno.bench("remember, NonceCache, 1,500/s steady: 466,500 held", {
  group: "remember",
  baseline: true,
}, () => {
  const { nonce, nowMs, timestampSeconds } = newAt1500.next();
  const verdict = newAt1500.cache.remember(secretId, nonce, timestampSeconds, nowMs);
  if (verdict !== "fresh") throw new Error(verdict);
});

Deno.bench("remember, NonceCache, 25,000/s steady: 7,775,000 held", { group: "remember" }, () => {
  const { nonce, nowMs, timestampSeconds } = newAt25000.next();
  const verdict = newAt25000.cache.remember(secretId, nonce, timestampSeconds, nowMs);
  if (verdict !== "fresh") throw new Error(verdict);
});

const replayed = warmedBuckets(1_500);
const replayedNonce = replayed.next();
replayed.cache.remember(
  secretId,
  replayedNonce.nonce,
  replayedNonce.timestampSeconds,
  replayedNonce.nowMs,
);

Deno.bench("remember a replay, NonceCache", { group: "remember" }, () => {
  const { nonce, timestampSeconds, nowMs } = replayedNonce;
  const verdict = replayed.cache.remember(secretId, nonce, timestampSeconds, nowMs);
  if (verdict !== "replayed") throw new Error(verdict);
});

const hashKey = randomSipHashKey();
const message = new TextEncoder().encode(`${secretId}\n${"0".repeat(32)}`);
const out = new Uint32Array(2);
const shaKey = crypto.getRandomValues(new Uint8Array(16));

Deno.bench("hash of a pair: SipHash-2-4 (47 bytes)", { group: "hash", baseline: true }, () => {
  sipHash24(hashKey, message, message.length, out);
});

Deno.bench("hash of a pair: node:crypto SHA-256, keyed by prefix", { group: "hash" }, () => {
  createHash("sha256").update(shaKey).update(message).digest();
});
