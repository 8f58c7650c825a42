/**
 * Real timers that a simulated crash stops, for tests of a node "killed" in process.
 *
 * @module
 */
import type { Timers } from "../../replication/mod.ts";

/**
 * Real timers that a simulated crash stops: once `stop()` is called no callback runs and none is
 * set, as in a process that is gone (a node crashed this way is never closed).
 */
export function stoppableTimers(): Timers & { stop(): void } {
  const live = new Set<ReturnType<typeof setTimeout>>();
  let stopped = false;
  return {
    setTimer(delayMs, callback) {
      if (stopped) return undefined;
      const handle = setTimeout(() => {
        live.delete(handle);
        callback();
      }, delayMs);
      live.add(handle);
      return handle;
    },
    clearTimer(handle) {
      live.delete(handle as ReturnType<typeof setTimeout>);
      clearTimeout(handle as ReturnType<typeof setTimeout>);
    },
    stop() {
      stopped = true;
      for (const handle of live) clearTimeout(handle);
      live.clear();
    },
  };
}
