/**
 * What `main.ts` says about releases: `--version` (the release and every format version it
 * writes), and the refusal of data a newer release wrote (README, "Upgrading"), with its exit
 * status.
 *
 * @module
 */
import {
  cmqdRelease,
  commandLayoutNewest,
  NewerReleaseError,
  stateSnapshotVersion,
} from "../engine/mod.ts";
import { snapshotContainerVersion } from "../replication/mod.ts";
import {
  NewerFormatError,
  segmentIndexFormatVersion,
  snapshotFileFormatVersion,
} from "../../storage/mod.ts";
import { peerProtocolVersion } from "../transport/mod.ts";

/**
 * Exit status of a node that stops on data a newer release wrote (EX_CONFIG of sysexits.h): a
 * restart with the same binary stops again; upgrade it.
 */
export const newerReleaseExitCode = 78;

/** The release and the format versions it writes (it reads those and older ones), one line. */
export function versionText(): string {
  return `cmqd ${cmqdRelease} (log record 1, log entry commands ${commandLayouts}, ` +
    `snapshot file ${snapshotFileFormatVersion}, snapshot container ${snapshotContainerVersion}, ` +
    `state snapshot ${stateSnapshotVersion}, segment index ${segmentIndexFormatVersion}, ` +
    `peer protocol ${peerProtocolVersion})`;
}

/**
 * Command layout versions: binary commands start with one (1, and later layouts of a few, each
 * also read in its earlier ones: `commandLayoutNewest`); JSON has none.
 */
const commandLayouts = `1-${commandLayoutNewest}`;

/**
 * The one-line reason when `error` is a refusal of a newer release's data (an entry of an
 * unknown command type, a file of a newer format), else null.
 */
export function newerReleaseRefusal(error: unknown): string | null {
  if (error instanceof NewerReleaseError) return error.message;
  if (error instanceof NewerFormatError) {
    return `${error.message.replace(/ \(nothing was changed\)$/, "")}; this release is cmqd ` +
      `${cmqdRelease} (nothing was changed)`;
  }
  return null;
}
