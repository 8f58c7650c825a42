import assert from "node:assert/strict";
import type { Timers } from "../replication/mod.ts";
import {
  failedStopExitCode,
  sameStopRequestMs,
  shutDown,
  type ShutdownParts,
  stopDeadlineMs,
  stopSignals,
} from "./shutdown.ts";

/** Parts that record each step they are asked for; `closeFails` makes `node.close()` reject. */
function recordingParts(closeFails: Error | null) {
  const steps: string[] = [];
  const lines: string[] = [];
  const errors: string[] = [];
  const parts: ShutdownParts = {
    nodeId: "n1",
    node: {
      handOffLeadership: () => Promise.resolve(steps.push("hand off")),
      broker: { close: () => void steps.push("broker closed") },
      close: (options) => {
        steps.push(options.handOff === false ? "node close" : "node close handing off again");
        return closeFails === null ? Promise.resolve() : Promise.reject(closeFails);
      },
    },
    server: {
      drain: (msMax) => Promise.resolve(steps.push(`drain ${msMax}`)),
      get finished() {
        steps.push("server finished");
        return Promise.resolve();
      },
    },
    drainMsMax: 2000,
    abortServer: () => void steps.push("abort"),
    members: { close: () => void steps.push("members closed") },
    log: (line) => lines.push(line),
    error: (line) => errors.push(line),
  };
  return { parts, steps, lines, errors };
}

Deno.test("a stop runs its steps in order and exits 0", async () => {
  const { parts, steps, lines, errors } = recordingParts(null);
  assert.equal(await shutDown(parts), 0);
  assert.deepEqual(steps, [
    "hand off",
    "broker closed",
    "drain 2000",
    "abort",
    "node close",
    "server finished",
    "members closed",
  ]);
  assert.deepEqual(lines, ["cmqd n1: stopped"]);
  assert.deepEqual(errors, []);
});

Deno.test("a node whose close rejects: the stop says so, still ends the server, and exits non-zero", async () => {
  const { parts, steps, lines, errors } = recordingParts(new Error("fsync failed: EIO"));
  // Was: the rejection escaped the stop (an unhandled rejection: a stack trace, status 1).
  const status = await shutDown(parts);
  assert.equal(status, failedStopExitCode);
  assert.notEqual(status, 0);
  assert.deepEqual(steps.slice(-3), ["node close", "server finished", "members closed"]);
  assert.deepEqual(errors, [
    "cmqd n1: stopping: closing the node failed: fsync failed: EIO",
    "cmqd n1: stopped after closing the node failed; exiting with status 1",
  ]);
  assert.deepEqual(lines, [], "not reported as a clean stop");
});

Deno.test("a stop before the node started closes the server and member connections only", async () => {
  const { parts, steps } = recordingParts(null);
  assert.equal(await shutDown({ ...parts, node: null }), 0);
  assert.deepEqual(steps, ["drain 2000", "abort", "server finished", "members closed"]);
});

/** Timers the test fires by hand: each armed timer, until it is cleared. */
function manualTimers() {
  const armed = new Map<number, { delayMs: number; callback: () => void }>();
  let next = 0;
  const timers: Timers = {
    setTimer: (delayMs, callback) => {
      armed.set(++next, { delayMs, callback });
      return next;
    },
    clearTimer: (handle) => void armed.delete(handle as number),
  };
  const fireAll = () => {
    for (const [handle, { callback }] of [...armed]) {
      armed.delete(handle);
      callback();
    }
  };
  return { timers, armed, fireAll };
}

/** Lets the stop's steps run up to the one that hangs. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
  await new Promise((resolve) => setTimeout(resolve, 0));
}

Deno.test("a stop whose node close never settles (a hung fdatasync) ends at its deadline with status 1, naming the step", async () => {
  const { parts, steps, lines, errors } = recordingParts(null);
  const { timers, armed, fireAll } = manualTimers();
  const hung: ShutdownParts = {
    ...parts,
    node: { ...parts.node!, close: () => new Promise<void>(() => void steps.push("node close")) },
    timers,
  };
  // Was: the stop waited on the close for ever, and a supervisor that sent one SIGTERM with it.
  const stopped = shutDown(hung);
  await settle();
  assert.equal(steps.at(-1), "node close");
  assert.deepEqual([...armed.values()].map((timer) => timer.delayMs), [stopDeadlineMs]);
  assert.equal(stopDeadlineMs, 30_000, "the bound the README gives");
  fireAll();
  assert.equal(await stopped, failedStopExitCode);
  assert.deepEqual(errors, [
    "cmqd n1: the graceful stop did not finish within 30 s: closing the node unfinished " +
    "(what was acknowledged is on disk); exiting with status 1",
  ]);
  assert.deepEqual(lines, [], "not reported as a clean stop");
});

Deno.test("the stop's deadline covers waiting for a start still opening the log", async () => {
  const { parts, steps, errors } = recordingParts(null);
  const { timers, fireAll } = manualTimers();
  const stopped = shutDown({ ...parts, starting: new Promise(() => {}), timers, deadlineMs: 500 });
  await settle();
  assert.deepEqual(steps, [], "nothing is closed under an opening log");
  fireAll();
  assert.equal(await stopped, failedStopExitCode);
  assert.match(errors[0], /within 0\.5 s: waiting for the start to finish unfinished/);
});

Deno.test("a stop that finishes in time clears its deadline; a start that settles first is waited for", async () => {
  const { parts, steps } = recordingParts(null);
  const { timers, armed } = manualTimers();
  let opened!: () => void;
  const starting = new Promise<void>((resolve) => opened = resolve);
  const stopped = shutDown({ ...parts, starting, timers });
  await settle();
  assert.deepEqual(steps, []);
  opened();
  assert.equal(await stopped, 0);
  assert.equal(steps[0], "hand off");
  assert.equal(armed.size, 0, "no timer left armed");
  assert.equal(
    await shutDown({ ...parts, deadlineMs: 0 }).catch((e) => e.message),
    "the stop's deadline must be a positive number of milliseconds, got 0",
  );
});

Deno.test("the first stop signal starts the graceful stop, any later one forces the exit", () => {
  const calls: string[] = [];
  let now = 1000;
  const onSignal = stopSignals({
    stop: (signal) => void calls.push(`stop ${signal}`),
    force: (signal) => void calls.push(`force ${signal}`),
  }, { now: () => now });
  onSignal("SIGTERM");
  assert.deepEqual(calls, ["stop SIGTERM"]);
  // The same Ctrl-C passed on by a launcher (deno task, npm start): the same request.
  now += 3;
  onSignal("SIGINT");
  now += sameStopRequestMs - 4;
  onSignal("SIGINT");
  assert.deepEqual(calls, ["stop SIGTERM"]);
  // An operator's second Ctrl-C, whichever signal the first was.
  now += 1;
  onSignal("SIGINT");
  onSignal("SIGTERM");
  assert.deepEqual(calls, ["stop SIGTERM", "force SIGINT", "force SIGTERM"]);
});
