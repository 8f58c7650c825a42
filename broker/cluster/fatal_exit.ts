/**
 * The line `main.ts` writes to stderr when the node stops on a fatal error (a failed write or
 * fsync, damage a read or the scrub found, an entry of a newer release), and the exit status it
 * ends with: the one report of that error, with all its detail.
 *
 * @module
 */
import { newerReleaseExitCode, newerReleaseRefusal } from "./release_info.ts";

/** Exit status after a storage failure (EX_IOERR of sysexits.h). */
export const storageFailureExitCode = 74;

/** The FATAL line of node `nodeId` stopping on `error`, and the status it exits with. */
export function fatalExit(nodeId: string, error: Error): { line: string; exitCode: number } {
  // An entry of a newer release (the replica stopped before applying it) is no storage failure:
  // a restart with this binary stops at it again.
  const refusal = newerReleaseRefusal(error);
  if (refusal !== null) {
    return {
      line: `cmqd ${nodeId}: FATAL: ${refusal}; exiting with status ${newerReleaseExitCode}`,
      exitCode: newerReleaseExitCode,
    };
  }
  return {
    line: `cmqd ${nodeId}: FATAL: storage failed: ${error.message}; exiting with status ` +
      `${storageFailureExitCode} so that a restart recovers from what is on disk`,
    exitCode: storageFailureExitCode,
  };
}
