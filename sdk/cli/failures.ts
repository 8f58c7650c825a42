/**
 * How the CLI words a failure on stderr: the broker's refusals, a node it could not reach, an
 * answer that was not the API's; and a bug of its own, which is none of those.
 *
 * @module
 */
import { CmqdError } from "../errors.ts";

/** The exit status of a bug in the CLI itself (sysexits' `EX_SOFTWARE`), told from a failure's 1. */
export const bugExitStatus = 70;

/**
 * `Code: message (field f)`, with a hint where the code says where to look: a node that could not
 * be reached (the connection failed: refused, reset, a name that does not resolve) names the
 * nodes tried, an answer that was not the API's asks whether they are cmqd nodes.
 */
export function failureText(error: CmqdError, nodes: readonly string[] = []): string {
  const field = error.field === undefined ? "" : ` (field ${error.field})`;
  const where = nodes.length === 0 ? "the node" : nodes.join(", ");
  const hint = error.code === "UnexpectedResponse"
    ? "; is --url a cmqd node?"
    : error.code === "NetworkError"
    ? `; could not reach ${where}: is cmqd running there?`
    : "";
  return `${error.code}: ${error.message}${field}${hint}`;
}

/**
 * What the CLI prints for an error that is neither the broker's nor bad usage: its own bug (an
 * answer of another shape is checked where it is read and is an `UnexpectedResponse`). The stack
 * is what a report needs.
 */
export function bugText(error: unknown): string {
  const detail = error instanceof Error ? error.stack ?? String(error) : String(error);
  return `error: a bug in the CLI, not an answer of the broker's (please report it):\n${detail}\n`;
}

/**
 * The exit status of a Deno permission the CLI was run without: bad usage, as a missing flag is
 * (the fix is on the command line: `deno run --allow-net --allow-env`).
 */
export const missingPermissionExitStatus = 2;

/**
 * What the CLI prints when Deno refused it a permission it was not run with (`NotCapable`:
 * `--allow-net` for any request, `--allow-env` for `CMQD_URL` and the credentials' variables), or
 * undefined for any other error. Neither the broker's answer nor a bug: the user's setup.
 */
export function missingPermissionText(error: unknown): string | undefined {
  if (!(error instanceof Error) || error.name !== "NotCapable") return undefined;
  const kind = /\bRequires (\w+) access\b/.exec(error.message)?.[1];
  const what = kind === undefined
    ? "a Deno permission is missing"
    : `Deno's ${kind} permission is missing`;
  // Deno's own advice names one flag; the CLI needs both.
  const message = error.message.replace(/,? run again with .*$/s, "");
  return `error: ${what}: ${message}; run the CLI with --allow-net --allow-env (deno task cli does)\n`;
}

/**
 * What the CLI prints when the operating system refused an operation (`PermissionDenied`: a
 * firewall or sandbox refusing the connection, say), or undefined for any other error. The user's
 * setup again, reported as a node that could not be reached is.
 */
export function systemRefusalText(error: unknown, nodes: readonly string[]): string | undefined {
  if (!(error instanceof Error) || error.name !== "PermissionDenied") return undefined;
  const where = nodes.length === 0 ? "the node" : nodes.join(", ");
  return `error: PermissionDenied: the system refused: ${error.message}; ` +
    `is this process allowed to connect to ${where}?\n`;
}
