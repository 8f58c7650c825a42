/**
 * The graceful stop `main.ts` runs on SIGINT or SIGTERM. Order matters: hand leadership over
 * while still serving (requests then forward to the new leader), answer the parked long polls
 * and stop taking requests, let what is in flight finish (bounded), then close the node (its
 * log) and wait for the server to end.
 *
 * A step that fails (closing the log fails to write its last state) is said in one line and the
 * stop goes on with the next: it still ends the server and the member connections, and answers
 * a non-zero exit status instead of leaving a rejection no one handles (a stack trace, status 1).
 *
 * The whole stop, the wait for a start still opening the log included, has a deadline
 * (`stopDeadlineMs`): a step that never settles (closing the node on a hung fdatasync) would
 * otherwise hold the process for ever, and a supervisor that sends one SIGTERM and waits with it.
 * Past the deadline the stop answers `failedStopExitCode`, naming the step it was in; what was
 * acknowledged is on disk, and the restart recovers as after a crash.
 *
 * @module
 */
import type { Timers } from "../replication/mod.ts";
import { realTimers } from "./real_time.ts";

/**
 * How long the whole graceful stop may take before the process exits anyway (status 1): well
 * past the hand-off (up to 3 s) and the drain (2 s) a healthy stop needs.
 */
export const stopDeadlineMs = 30_000;

/** What the stop works on: the parts `main.ts` built. */
export interface ShutdownParts {
  nodeId: string;
  /**
   * The start in progress, if any: the stop waits for it to settle first (an opening log is
   * closed, not cut off), and only then reads `node`. How it settles is the start's to report.
   */
  starting?: Promise<unknown> | null;
  /** The node, or null when the start had not got that far. */
  node: {
    handOffLeadership(): Promise<unknown>;
    broker: { close(): void };
    close(options: { handOff: false }): Promise<void>;
  } | null;
  server: { drain(msMax: number): Promise<unknown>; finished: Promise<unknown> };
  /** How long requests in flight may take to finish once nothing new is taken. */
  drainMsMax: number;
  /** Ends the client listener (it resets the requests still open). */
  abortServer(): void;
  /** The connections to other members (forwarding, joins). */
  members: { close(): void };
  log?: (line: string) => void;
  error?: (line: string) => void;
  /** The bound on the whole stop; `stopDeadlineMs` when not given. */
  deadlineMs?: number;
  /** Timers for the deadline; real ones when not given. */
  timers?: Timers;
}

/** Exit status of a stop one of whose steps failed. */
export const failedStopExitCode = 1;

/**
 * Stops the node in order; resolves with the exit status (0, or `failedStopExitCode` when a step
 * failed or the deadline passed first). Rejects, doing nothing, when `deadlineMs` is not a
 * positive number.
 */
export async function shutDown(parts: ShutdownParts): Promise<number> {
  const deadlineMs = parts.deadlineMs ?? stopDeadlineMs;
  if (!(deadlineMs > 0) || !Number.isFinite(deadlineMs)) {
    throw new RangeError(
      `the stop's deadline must be a positive number of milliseconds, got ${deadlineMs}`,
    );
  }
  const error = parts.error ?? ((line) => console.error(line));
  const timers = parts.timers ?? realTimers;
  const progress = { current: "waiting for the start to finish", over: false };
  let handle: unknown;
  const late = new Promise<number>((resolve) => {
    handle = timers.setTimer(deadlineMs, () => {
      progress.over = true;
      error(
        `cmqd ${parts.nodeId}: the graceful stop did not finish within ${deadlineMs / 1000} s: ` +
          `${progress.current} unfinished (what was acknowledged is on disk); exiting with ` +
          `status ${failedStopExitCode}`,
      );
      resolve(failedStopExitCode);
    });
  });
  try {
    return await Promise.race([runSteps(parts, progress), late]);
  } finally {
    timers.clearTimer(handle);
  }
}

/** The steps in order; `progress.current` names the one running; silent once `over`. */
async function runSteps(
  parts: ShutdownParts,
  progress: { current: string; over: boolean },
): Promise<number> {
  const log = parts.log ?? ((line) => console.log(line));
  const error = parts.error ?? ((line) => console.error(line));
  await parts.starting?.catch(() => {});
  const { node, nodeId } = parts;
  const failed: string[] = [];
  const step = async (what: string, run: () => unknown) => {
    if (progress.over) return;
    progress.current = what;
    try {
      await run();
    } catch (cause) {
      failed.push(what);
      if (progress.over) return;
      error(`cmqd ${nodeId}: stopping: ${what} failed: ${(cause as Error)?.message ?? cause}`);
    }
  };
  if (node !== null) await step("handing leadership over", () => node.handOffLeadership());
  // Aborting the server resets every request still open: first answer the parked long polls
  // (a leader's were answered by the hand-off), stop taking requests and let what is in flight
  // finish (bounded).
  if (node !== null) await step("answering parked requests", () => node.broker.close());
  await step("draining requests", () => parts.server.drain(parts.drainMsMax));
  await step("ending the listener", () => parts.abortServer());
  // Handed over above: a second try would wait its bound again when no voter can take it.
  if (node !== null) await step("closing the node", () => node.close({ handOff: false }));
  await step("ending the server", () => parts.server.finished);
  await step("closing member connections", () => parts.members.close());
  if (progress.over) return failedStopExitCode;
  if (failed.length > 0) {
    error(
      `cmqd ${nodeId}: stopped after ${failed.join(", ")} failed; exiting with status ` +
        failedStopExitCode,
    );
    return failedStopExitCode;
  }
  log(`cmqd ${nodeId}: stopped`);
  return 0;
}

/**
 * What the stop signals do: the first starts the graceful stop (`stop`); any later one, whichever
 * signal, ends the process at once (`force`), unless it comes within `sameStopRequestMs` of the
 * first (the same Ctrl-C, passed on by a launcher). An operator's second Ctrl-C, or a supervisor's
 * second SIGTERM, used to be ignored while the stop waited (requests in flight, a log opening, a
 * slow disk). An exit then is a crash as far as the data goes: what was acknowledged is on disk.
 *
 * @example
 * ```ts
 * const onSignal = stopSignals({ stop: gracefulStop, force: () => Deno.exit(1) });
 * Deno.addSignalListener("SIGTERM", () => onSignal("SIGTERM"));
 * ```
 */
export function stopSignals(
  actions: { stop(signal: string): void; force(signal: string): void },
  options: { now?: () => number } = {},
): (signal: string) => void {
  const now = options.now ?? (() => performance.now());
  let firstAt: number | null = null;
  return (signal) => {
    if (firstAt === null) {
      firstAt = now();
      actions.stop(signal);
    } else if (now() - firstAt >= sameStopRequestMs) {
      actions.force(signal);
    }
  };
}

/**
 * Signals this soon after the first are the same request: a terminal's Ctrl-C reaches every
 * process of its group, and a launcher (`deno task`, `npm start`) passes it on to its child as
 * well, so one Ctrl-C arrives twice within milliseconds; taken as a second one, it cut the
 * graceful stop short. An operator's deliberate second Ctrl-C comes later than this.
 */
export const sameStopRequestMs = 250;
