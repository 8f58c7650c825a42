import { strict as assert } from "node:assert";
import { NonceCache } from "./nonce_cache.ts";

const startMs = 1_700_000_000_000;

Deno.test("by default the cache holds 1,000,000 nonces for 600 s (the README's replay cache)", () => {
  const cache = new NonceCache();
  assert.equal(cache.noncesMax, 1_000_000);
  assert.equal(cache.nonceTtlMs, 600_000);
});

Deno.test("a new nonce is fresh and the same nonce again is a replay", () => {
  const cache = new NonceCache();
  assert.equal(cache.remember("AKIDa", "n1", startMs), "fresh");
  assert.equal(cache.remember("AKIDa", "n1", startMs + 1), "replayed");
  assert.equal(cache.size, 1);
});

Deno.test("the same nonce under another secretId is not a replay", () => {
  const cache = new NonceCache();
  assert.equal(cache.remember("AKIDa", "n1", startMs), "fresh");
  assert.equal(cache.remember("AKIDb", "n1", startMs), "fresh");
});

Deno.test("a nonce is remembered for exactly 600 s, the last millisecond included", () => {
  const cache = new NonceCache();
  cache.remember("AKIDa", "n1", startMs);
  assert.equal(cache.remember("AKIDa", "n1", startMs + 600_000), "replayed");
  assert.equal(cache.remember("AKIDa", "n1", startMs + 600_001), "fresh");
});

Deno.test("expired nonces are dropped as time passes, so the cache does not grow", () => {
  const cache = new NonceCache({ noncesMax: 10 });
  for (let second = 0; second < 10_000; second++) {
    assert.equal(cache.remember("AKIDa", `n${second}`, startMs + second * 100_000), "fresh");
    assert.ok(cache.size <= 7);
  }
});

Deno.test("a full cache refuses new nonces instead of forgetting unexpired ones", () => {
  const cache = new NonceCache({ noncesMax: 3 });
  for (const nonce of ["n1", "n2", "n3"]) cache.remember("AKIDa", nonce, startMs);
  assert.equal(cache.remember("AKIDa", "n4", startMs + 1_000), "full");
  // The remembered ones are still caught: nothing was evicted to make room.
  for (const nonce of ["n1", "n2", "n3"]) {
    assert.equal(cache.remember("AKIDa", nonce, startMs + 2_000), "replayed");
  }
  assert.equal(cache.size, 3);
});

Deno.test("a full cache says when the oldest nonce expires and takes new ones from then on", () => {
  const cache = new NonceCache({ noncesMax: 2 });
  cache.remember("AKIDa", "n1", startMs);
  cache.remember("AKIDa", "n2", startMs + 5_000);
  assert.equal(cache.remember("AKIDa", "n3", startMs + 10_000), "full");
  assert.equal(cache.msUntilOldestExpires(startMs + 10_000), 590_001);
  assert.equal(cache.remember("AKIDa", "n3", startMs + 600_001), "fresh");
  assert.equal(cache.remember("AKIDa", "n2", startMs + 600_001), "replayed");
});

Deno.test("an empty cache has nothing to wait for", () => {
  assert.equal(new NonceCache().msUntilOldestExpires(startMs), 0);
});

Deno.test("a clock that steps back makes nonces live longer, never shorter", () => {
  const cache = new NonceCache();
  cache.remember("AKIDa", "early", startMs);
  cache.remember("AKIDa", "after-step", startMs - 300_000);
  // At startMs + 300 s "after-step" has expired but sits behind "early", which has not.
  assert.equal(cache.remember("AKIDa", "early", startMs + 300_001), "replayed");
  assert.equal(cache.size, 2);
  // An expired pair found in the cache is fresh again and moves to the back.
  assert.equal(cache.remember("AKIDa", "after-step", startMs + 300_001), "fresh");
  assert.equal(cache.remember("AKIDa", "early", startMs + 600_001), "fresh");
  assert.equal(cache.remember("AKIDa", "after-step", startMs + 600_001), "replayed");
});

Deno.test("bounds that are not positive integers are refused", () => {
  assert.throws(() => new NonceCache({ noncesMax: 0 }), RangeError);
  assert.throws(() => new NonceCache({ noncesMax: 1.5 }), RangeError);
  assert.throws(() => new NonceCache({ nonceTtlMs: -1 }), RangeError);
});
