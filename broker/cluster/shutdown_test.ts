import assert from "node:assert/strict";
import {
  failedStopExitCode,
  sameStopRequestMs,
  shutDown,
  type ShutdownParts,
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
