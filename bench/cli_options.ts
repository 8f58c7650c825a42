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

/**
 * Parses `--name value` and `--name=value` (kebab-case names of `defaults`' camelCase keys) over
 * `defaults`. A flag `defaults` lacks, a flag without its value, or a number option whose value
 * is not a finite number is an error: a typo never silently runs the wrong load. Ranges are the
 * caller's to check.
 *
 * @example
 * ```ts
 * const options = parseFlags(["--seconds", "5", "--url=amqp://h"], { seconds: 10, url: "" });
 * ```
 */
export function parseFlags<T extends Record<string, string | number>>(
  args: readonly string[],
  defaults: T,
): T {
  const options: Record<string, string | number> = { ...defaults };
  for (let index = 0; index < args.length; index++) {
    const arg = args[index];
    if (!arg.startsWith("--")) throw new Error(`unexpected argument '${arg}'`);
    const equals = arg.indexOf("=");
    const flag = equals < 0 ? arg : arg.slice(0, equals);
    const key = flag.slice(2).replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
    if (!Object.hasOwn(defaults, key)) throw new Error(`unknown option ${flag}`);
    const value = equals < 0 ? args[++index] : arg.slice(equals + 1);
    if (value === undefined || (equals < 0 && value.startsWith("--"))) {
      throw new Error(`${flag} needs a value`);
    }
    if (typeof defaults[key] === "number") {
      const number = value.trim() === "" ? NaN : Number(value);
      if (!Number.isFinite(number)) throw new Error(`${flag} needs a number, got '${value}'`);
      options[key] = number;
    } else options[key] = value;
  }
  return options as T;
}

/** The `--flag default` lines of `defaults`, for a usage message. */
export function flagLines(defaults: Record<string, string | number>): string {
  return Object.entries(defaults).map(([key, value]) =>
    `  --${key.replace(/[A-Z]/g, (letter) => "-" + letter.toLowerCase())} ${JSON.stringify(value)}`
  ).join("\n");
}
