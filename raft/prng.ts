/**
 * A small deterministic PRNG (mulberry32) for election timeouts and for simulators. Raft never
 * calls `Math.random`: randomness is injected so a seed replays a run exactly.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Prng } from "./types.ts";

/**
 * Creates a seeded PRNG returning uniform numbers in [0, 1).
 *
 * @example
 * ```ts
 * const prng = createPrng(42);
 * const timeoutTicks = 10 + Math.floor(prng.next() * 10);
 * ```
 */
export function createPrng(seed: number): Prng {
  assert.ok(Number.isFinite(seed), "a seed is a finite number");
  let state = seed >>> 0;
  return {
    next(): number {
      state = (state + 0x6d2b79f5) >>> 0;
      let mixed = state;
      mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
      mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
      return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
    },
  };
}

/** Draws an integer in [0, maxExclusive) from `prng`. */
export function randomInt(prng: Prng, maxExclusive: number): number {
  assert.ok(Number.isSafeInteger(maxExclusive) && maxExclusive > 0, "maxExclusive is positive");
  const value = Math.floor(prng.next() * maxExclusive);
  assert.ok(value >= 0 && value < maxExclusive, "a PRNG returns numbers in [0, 1)");
  return value;
}
