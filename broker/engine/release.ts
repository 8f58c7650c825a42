/**
 * Which release this is, and what it does with data a newer release wrote.
 *
 * Every replica must apply the same entries the same way. An entry whose command type this
 * release does not know, or a command in a layout version newer than it writes, comes from a
 * newer release (a rolling upgrade, or a downgrade after one): applying it as a failure while
 * the newer nodes apply it for real would make the replicas silently diverge. So the state
 * machine refuses it: `apply` throws {@link NewerReleaseError} without changing anything, the
 * replica stops, and the process exits (README, "Upgrading"). A restart with the same binary
 * stops at the same entry again; one with a release that knows it carries on.
 *
 * What stays an applied failure (`MalformedRequest`) is a payload of a known type and known
 * layout version that does not decode: every release that knows that layout decodes the same
 * bytes the same way, so they all agree it fails.
 *
 * @module
 */
import { DecodeError } from "./binary.ts";
import type { AppliedEntry } from "./types.ts";

/** The release of cmqd (printed by `--version`, named in refusals). */
export const cmqdRelease = "0.1.0";

/** Data a newer release wrote, which this release must not apply or load. Stops the node. */
export class NewerReleaseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NewerReleaseError";
  }
}

/** A command decoder met a layout version above the ones this release writes. */
export class NewerLayoutError extends NewerReleaseError {
  readonly version: number;

  constructor(version: number) {
    super(`layout version ${version}`);
    this.name = "NewerLayoutError";
    this.version = version;
  }
}

/**
 * The error of a layout `version` this release does not read: a newer release's when above
 * `highestKnown` (`NewerLayoutError`), else garbage (`DecodeError`, an applied failure).
 */
export function layoutVersionError(version: number, highestKnown: number): Error {
  return version > highestKnown
    ? new NewerLayoutError(version)
    : new DecodeError(`unknown layout version ${version}`);
}

/** The refusal of a log entry of a newer release (its type, or its type's layout version). */
export function newerEntryError(
  entry: Pick<AppliedEntry, "index" | "type">,
  layoutVersion?: number,
): NewerReleaseError {
  const layout = layoutVersion === undefined ? "" : ` in layout version ${layoutVersion}`;
  return new NewerReleaseError(
    `log entry ${entry.index} has command type ${entry.type}${layout}, which this release ` +
      `(cmqd ${cmqdRelease}) does not know: a newer release wrote it; upgrade this node`,
  );
}
