/**
 * Reading `--name value` options of the bench scripts that take a few flags and no parser.
 *
 * @module
 */

/** The value after `--name`, or `fallback` when the flag (or its value) is absent. */
export function textOption(name: string, fallback: string): string {
  const at = Deno.args.indexOf(`--${name}`);
  return at < 0 || at + 1 >= Deno.args.length ? fallback : Deno.args[at + 1];
}

/** `--name N` as a positive integer, else `fallback`; anything else is refused. */
export function option(name: string, fallback: number): number {
  const value = Number(textOption(name, String(fallback)));
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} needs a positive integer`);
  return value;
}
