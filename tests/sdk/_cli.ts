/**
 * Test-only: runs the CLI (`sdk/cli/main.ts`) as a user does, a `deno run` process with
 * `CMQD_URL` set, and collects its exit code and output.
 *
 * @module
 */

export const cliPath = new URL("../../sdk/cli/main.ts", import.meta.url).pathname;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with `CMQD_URL` set to `url`; a last argument `{ env }` adds to its environment. */
export async function cli(
  url: string,
  ...args: (string | { env: Record<string, string> })[]
): Promise<CliResult> {
  const last = args.at(-1);
  const env = typeof last === "object" ? last.env : {};
  const words = args.filter((arg): arg is string => typeof arg === "string");
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", cliPath, ...words],
    env: { CMQD_URL: url, NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}
