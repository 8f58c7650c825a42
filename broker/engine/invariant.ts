/**
 * The engine's cheap invariant check, for per-message paths: `assert.ok` from node:assert
 * inspects its arguments on every call, this costs nothing while the condition holds.
 *
 * @module
 */
import { AssertionError } from "node:assert";

/** Throws an `AssertionError` with `message` when `condition` is false. */
export function invariant(condition: unknown, message = "invariant failed"): asserts condition {
  if (!condition) throw new AssertionError({ message });
}
