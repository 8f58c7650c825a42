import { strict as assert } from "node:assert";
import { NonceCache } from "./nonce_cache.ts";

/** A signed timestamp (Unix seconds) and the same instant in milliseconds. */
const t0 = 1_700_000_000;
const t0Ms = t0 * 1000;

Deno.test("by default: 10,000,000 nonces, 80 % per secretId, the 300 s window, 10 s of step-back", () => {
  const cache = new NonceCache();
  assert.equal(cache.noncesMax, 10_000_000);
  assert.equal(cache.noncesPerSecretIdMax, 8_000_000);
  assert.equal(cache.timestampSkewMs, 300_000);
  assert.equal(cache.clockStepBackMs, 10_000);
});

Deno.test("a new nonce is fresh and the same nonce with the same timestamp again is a replay", () => {
  const cache = new NonceCache();
  assert.equal(cache.remember("AKIDa", "n1", t0, t0Ms), "fresh");
  assert.equal(cache.remember("AKIDa", "n1", t0, t0Ms + 1), "replayed");
  assert.equal(cache.size, 1);
});

Deno.test("the same nonce under another secretId, or signed with another timestamp, is new", () => {
  const cache = new NonceCache();
  assert.equal(cache.remember("AKIDa", "n1", t0, t0Ms), "fresh");
  assert.equal(cache.remember("AKIDb", "n1", t0, t0Ms), "fresh");
  assert.equal(cache.remember("AKIDa", "n1", t0 + 1, t0Ms), "fresh");
  // The pair's parts are not run together: ("ab", "c") is not ("a", "bc"), nor non-ASCII mixed up.
  assert.equal(cache.remember("ab", "c", t0, t0Ms), "fresh");
  assert.equal(cache.remember("a", "bc", t0, t0Ms), "fresh");
  assert.equal(cache.remember("a", "\u00ff", t0, t0Ms), "fresh");
  assert.equal(cache.remember("a", "\u0100", t0, t0Ms), "fresh");
  assert.equal(cache.remember("a", "\u00ff", t0, t0Ms), "replayed");
});

Deno.test("5,000 signed requests a second for 700 s are all fresh; the cache holds about 311 s of them", () => {
  // The old cache (every pair for 600 s, at most 1,000,000) answered "full" from second 200 on.
  const cache = new NonceCache();
  const rate = 5_000;
  for (let second = 0; second < 700; second++) {
    for (let index = 0; index < rate; index++) {
      const nowMs = t0Ms + second * 1000 + index / 5;
      const verdict = cache.remember("AKIDbusy", `n${second}-${index}`, t0 + second, nowMs);
      if (verdict !== "fresh") assert.fail(`${verdict} at second ${second}, size ${cache.size}`);
    }
    assert.ok(cache.size <= rate * 312, `${cache.size} at second ${second}`);
  }
  assert.ok(cache.size >= rate * 310);
  assert.equal(cache.sizeOf("AKIDbusy"), cache.size);
});

Deno.test("a replay is caught at any time its timestamp is accepted, across other seconds' traffic", () => {
  const cache = new NonceCache();
  // Signed by a client 300 s ahead of the server, first seen at the window's start.
  assert.equal(cache.remember("AKIDa", "n1", t0, t0Ms - 300_000), "fresh");
  for (let nowMs = t0Ms - 300_000; nowMs <= t0Ms + 300_000; nowMs += 7_000) {
    // Other requests, signed now, make and drop buckets as time passes.
    assert.equal(cache.remember("AKIDb", `n${nowMs}`, Math.floor(nowMs / 1000), nowMs), "fresh");
    assert.equal(cache.remember("AKIDa", "n1", t0, nowMs), "replayed", `at ${nowMs - t0Ms} ms`);
  }
  // The timestamp check accepts T until T + 300 s; the cache keeps it 10 s more, to the ms.
  assert.equal(cache.remember("AKIDa", "n1", t0, t0Ms + 310_000), "replayed");
  assert.equal(cache.remember("AKIDa", "n1", t0, t0Ms + 310_001), "outOfWindow");
});

Deno.test("a clock stepped back within the margin still finds every timestamp it accepts", () => {
  const cache = new NonceCache();
  cache.remember("AKIDa", "n1", t0, t0Ms);
  // The clock ran to T + 309 s (T's bucket kept), then stepped back 10 s to T + 299 s, where the
  // timestamp check accepts T again.
  assert.equal(cache.remember("AKIDb", "tick", t0 + 309, t0Ms + 309_000), "fresh");
  assert.equal(cache.remember("AKIDa", "n1", t0, t0Ms + 299_000), "replayed");
});

Deno.test("a clock stepped back further refuses forgotten timestamps, never takes them as fresh", () => {
  const cache = new NonceCache();
  cache.remember("AKIDa", "n1", t0, t0Ms);
  assert.equal(cache.remember("AKIDb", "tick", t0 + 320, t0Ms + 320_000), "fresh");
  // T's bucket is gone. Back at T + 290 s the timestamp check would accept T; the cache can't
  // tell a replay from a new request, so it refuses both.
  assert.equal(cache.remember("AKIDa", "n1", t0, t0Ms + 290_000), "outOfWindow");
  assert.equal(cache.remember("AKIDa", "n2", t0, t0Ms + 290_000), "outOfWindow");
  // Timestamps after the step are checked as usual.
  assert.equal(cache.remember("AKIDa", "n3", t0 + 290, t0Ms + 290_000), "fresh");
  assert.equal(cache.remember("AKIDa", "n3", t0 + 290, t0Ms + 291_000), "replayed");
});

Deno.test("a timestamp further ahead than the window is refused and not remembered", () => {
  const cache = new NonceCache();
  assert.equal(cache.remember("AKIDa", "n1", t0 + 311, t0Ms), "outOfWindow");
  assert.equal(cache.remember("AKIDa", "n1", t0 + 310, t0Ms), "fresh");
  assert.equal(cache.size, 1);
});

Deno.test("after a long idle time every old bucket is dropped at once", () => {
  const cache = new NonceCache();
  for (let second = 0; second < 100; second++) cache.remember("AKIDa", "n", t0 + second, t0Ms);
  assert.equal(cache.size, 100);
  const dayLaterMs = t0Ms + 86_400_000;
  assert.equal(cache.remember("AKIDa", "n", t0 + 86_400, dayLaterMs), "fresh");
  assert.equal(cache.size, 1);
  assert.equal(cache.sizeOf("AKIDa"), 1);
});

Deno.test("a full cache refuses new nonces instead of forgetting ones still in their window", () => {
  const cache = new NonceCache({ noncesMax: 3, secretIdShare: 1 });
  for (const nonce of ["n1", "n2", "n3"]) cache.remember("AKIDa", nonce, t0, t0Ms);
  assert.equal(cache.remember("AKIDa", "n4", t0 + 1, t0Ms + 1_000), "full");
  assert.equal(cache.remember("AKIDb", "n4", t0 + 1, t0Ms + 1_000), "full");
  // The remembered ones are still caught: nothing was evicted to make room.
  for (const nonce of ["n1", "n2", "n3"]) {
    assert.equal(cache.remember("AKIDa", nonce, t0, t0Ms + 2_000), "replayed");
  }
  assert.equal(cache.size, 3);
});

Deno.test("a full cache says when its oldest second is dropped and takes new nonces from then on", () => {
  const cache = new NonceCache({ noncesMax: 2, secretIdShare: 1 });
  cache.remember("AKIDa", "n1", t0, t0Ms);
  cache.remember("AKIDa", "n2", t0 + 5, t0Ms + 5_000);
  assert.equal(cache.remember("AKIDa", "n3", t0 + 10, t0Ms + 10_000), "full");
  assert.equal(cache.msUntilOldestExpires(t0Ms + 10_000), 300_001);
  assert.equal(cache.remember("AKIDa", "n3", t0 + 300, t0Ms + 310_000), "full");
  assert.equal(cache.remember("AKIDa", "n3", t0 + 300, t0Ms + 310_001), "fresh");
  assert.equal(cache.remember("AKIDa", "n2", t0 + 5, t0Ms + 310_001), "replayed");
});

Deno.test("an empty cache has nothing to wait for", () => {
  assert.equal(new NonceCache().msUntilOldestExpires(t0Ms), 0);
});

Deno.test("one secretId holds at most its share: past it only that key is refused", () => {
  const cache = new NonceCache({ noncesMax: 10, secretIdShare: 0.5 });
  assert.equal(cache.noncesPerSecretIdMax, 5);
  for (let index = 0; index < 5; index++) {
    assert.equal(cache.remember("AKIDnoisy", `n${index}`, t0, t0Ms), "fresh");
  }
  assert.equal(cache.remember("AKIDnoisy", "n5", t0 + 3, t0Ms + 3_000), "shareFull");
  // Its replays are still told apart from new nonces.
  assert.equal(cache.remember("AKIDnoisy", "n0", t0, t0Ms + 3_000), "replayed");
  for (let index = 0; index < 5; index++) {
    assert.equal(cache.remember("AKIDquiet", `n${index}`, t0 + 2, t0Ms + 3_000), "fresh");
  }
  assert.equal(cache.remember("AKIDquiet", "n5", t0 + 2, t0Ms + 3_000), "full");
  assert.equal(cache.sizeOf("AKIDnoisy"), 5);
  assert.equal(cache.sizeOf("AKIDquiet"), 5);
  // The noisy key's room comes back when its own oldest second is dropped.
  assert.equal(cache.msUntilOldestExpires(t0Ms + 3_000, "AKIDnoisy"), 307_001);
  assert.equal(cache.msUntilOldestExpires(t0Ms + 3_000, "AKIDquiet"), 309_001);
  assert.equal(cache.remember("AKIDnoisy", "n5", t0 + 310, t0Ms + 310_001), "fresh");
  assert.equal(cache.sizeOf("AKIDnoisy"), 1);
});

Deno.test("options out of range and a timestamp that is not an integer are refused", () => {
  assert.throws(() => new NonceCache({ noncesMax: 0 }), RangeError);
  assert.throws(() => new NonceCache({ noncesMax: 1.5 }), RangeError);
  assert.throws(() => new NonceCache({ secretIdShare: 0 }), RangeError);
  assert.throws(() => new NonceCache({ secretIdShare: 1.5 }), RangeError);
  assert.throws(() => new NonceCache({ timestampSkewMs: -1 }), RangeError);
  assert.throws(() => new NonceCache({ clockStepBackMs: -1 }), RangeError);
  assert.throws(() => new NonceCache().remember("AKIDa", "n", 1.5, t0Ms), RangeError);
  assert.throws(() => new NonceCache().remember("AKIDa", "n", NaN, t0Ms), RangeError);
});
