/**
 * Promise-returning methods that report every failure through their promise.
 *
 * @module
 */

/**
 * Runs `work` and returns its promise; a synchronous throw (a failed or closed log, bad input)
 * comes back as a rejected promise, so a caller handles every failure in one place (`await`,
 * `.catch`) and one that chains `.catch` never sees a throw escape it.
 */
export function rejecting<T>(work: () => Promise<T>): Promise<T> {
  try {
    return work();
  } catch (error) {
    return Promise.reject(error);
  }
}
