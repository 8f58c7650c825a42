/**
 * Test helper: counts the calls of a prototype's method while a function runs, so cost tests can
 * count operations instead of timing them.
 *
 * @module
 */

/** Calls of `method` on `prototype` while `run` runs. */
export function countCalls<T extends object>(
  prototype: T,
  method: keyof T,
  run: () => void,
): number {
  const original = prototype[method] as (...args: unknown[]) => unknown;
  let calls = 0;
  Object.defineProperty(prototype, method, {
    configurable: true,
    writable: true,
    value: function (this: unknown, ...args: unknown[]) {
      calls++;
      return original.apply(this, args);
    },
  });
  try {
    run();
  } finally {
    Object.defineProperty(prototype, method, {
      configurable: true,
      writable: true,
      value: original,
    });
  }
  return calls;
}
