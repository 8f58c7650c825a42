/**
 * The command line of the cmqd CLI, parsed: positional words and `--flag value` /
 * `--flag=value` / boolean `--flag` options, each at most once. Which flags take a value is
 * declared, so that a typo is an error rather than a silently ignored word.
 *
 * @module
 */

/** A parsed command line. */
export interface ParsedArgs {
  positionals: string[];
  /** Flag name (without `--`) → value; boolean flags map to `"true"`. */
  flags: Map<string, string>;
}

/** Flags that take no value. */
export const booleanFlags: ReadonlySet<string> = new Set([
  "json",
  "delete",
  "fifo",
  "help",
]);

/** Flags that take a value. */
export const valueFlags: ReadonlySet<string> = new Set([
  "url",
  "secret-id",
  "secret-key",
  "prefix",
  "offset",
  "limit",
  "count",
  "group-id",
  "dedup-id",
  "delay-seconds",
  "max",
  "wait-seconds",
  "visibility-timeout-seconds",
  "polling-wait-seconds",
  "max-message-bytes",
  "retention-seconds",
  "rewind-seconds",
  "max-backlog",
  "dead-letter-queue",
  "max-receive-count",
  "max-time-to-live-seconds",
  "concurrency",
  "batch-size",
  "timeout-seconds",
  "request-timeout-seconds",
  "head-timeout-ms",
  "filter-type",
  "tags",
  "routing-key",
  "queue",
  "push-url",
  "filter-tags",
  "binding-keys",
  "retry-policy",
  "push-format",
  "to",
  "sequence",
]);

/** A usage error: the CLI prints it with the usage hint and exits with status 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * Parses `argv` (without the program name). A leading `--` (as `deno task cli -- ...` passes it)
 * is dropped; a later `--` ends the flags. `-h` is `--help`.
 *
 * @example
 * ```ts
 * parseArgs(["send", "orders", "hello", "--count", "3"]);
 * // { positionals: ["send", "orders", "hello"], flags: Map { "count" => "3" } }
 * ```
 */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const words = argv[0] === "--" ? argv.slice(1) : [...argv];
  const positionals: string[] = [];
  const flags = new Map<string, string>();
  for (let index = 0; index < words.length; index++) {
    const word = words[index];
    if (word === "--") {
      positionals.push(...words.slice(index + 1));
      break;
    }
    // `-h` is `--help`, as in most tools (after `--` it is a word like any other).
    if (word === "-h") {
      if (flags.has("help")) throw new UsageError("--help twice");
      flags.set("help", "true");
      continue;
    }
    if (!word.startsWith("--") || word === "-") {
      positionals.push(word);
      continue;
    }
    const equals = word.indexOf("=");
    const name = word.slice(2, equals < 0 ? undefined : equals);
    // Which of two values was meant is a guess: the last one winning would drop the other.
    if (flags.has(name)) throw new UsageError(`--${name} twice`);
    if (booleanFlags.has(name)) {
      if (equals >= 0) throw new UsageError(`--${name} takes no value`);
      flags.set(name, "true");
    } else if (valueFlags.has(name)) {
      const value = equals >= 0 ? word.slice(equals + 1) : words[++index];
      // `--prefix --json` lacks the prefix: the next flag is not taken as the value (a value
      // that starts with -- is given as `--prefix=--x`).
      if (value === undefined || (equals < 0 && value.startsWith("--"))) {
        throw new UsageError(`--${name} needs a value`);
      }
      flags.set(name, value);
    } else {
      throw new UsageError(`unknown flag --${name}`);
    }
  }
  return { positionals, flags };
}

/** The integer value of `--name`, within `[min, max]`, or `fallback` when it is absent. */
export function integerFlag(
  args: ParsedArgs,
  name: string,
  range: { min: number; max: number },
  fallback?: number,
): number | undefined {
  const text = args.flags.get(name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^-?\d+$/.test(text) || value < range.min || value > range.max) {
    throw new UsageError(`--${name} must be an integer from ${range.min} to ${range.max}`);
  }
  return value;
}

/** An ISO 8601 date-time with its zone: `2026-12-05T13:00:00Z`, `…T14:00:00.250+01:00`. */
const isoTime =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?(?:Z|[+-](\d{2}):(\d{2}))$/;

/**
 * The time `--name` gives, in Unix epoch milliseconds: digits are epoch milliseconds, anything
 * else must be an ISO 8601 date-time with a zone (`Z` or `±hh:mm`: without one, the time would
 * depend on the machine's zone). A date that does not exist (`2026-02-30`) is refused, not
 * rolled over into the next month. Undefined when the flag is absent.
 *
 * @example
 * ```ts
 * timeFlag(parseArgs(["rewind", "q", "--to", "1970-01-01T00:00:01Z"]), "to"); // 1000
 * ```
 */
export function timeFlag(args: ParsedArgs, name: string): number | undefined {
  const text = args.flags.get(name);
  if (text === undefined) return undefined;
  const expected = "epoch milliseconds or an ISO 8601 time with a zone " +
    "(e.g. 2026-12-05T13:00:00Z)";
  if (/^\d+$/.test(text)) {
    const value = Number(text);
    if (value > Number.MAX_SAFE_INTEGER) throw new UsageError(`--${name}: ${text} is too large`);
    return value;
  }
  const fields = isoTime.exec(text);
  if (fields === null) throw new UsageError(`--${name} must be ${expected}, not '${text}'`);
  const [, year, month, day, hour, minute, second = "0", zoneHour = "0", zoneMinute = "0"] = fields;
  const daysInMonth = new Date(Date.UTC(Number(year), Number(month), 0)).getUTCDate();
  const inRange = Number(month) >= 1 && Number(month) <= 12 && Number(day) >= 1 &&
    Number(day) <= daysInMonth && Number(hour) <= 23 && Number(minute) <= 59 &&
    Number(second) <= 59 && Number(zoneHour) <= 23 && Number(zoneMinute) <= 59;
  const value = Date.parse(text);
  if (!inRange || !Number.isFinite(value)) {
    throw new UsageError(`--${name}: '${text}' is not a valid time`);
  }
  if (value < 0) throw new UsageError(`--${name}: '${text}' is before 1970`);
  return value;
}

/**
 * The name at `positionals[index]` (a queue's, a topic's …): missing or empty is a usage error
 * (an empty name would make a request to the collection's path, `GET /v1/queues/`).
 */
export function nameAt(args: ParsedArgs, index: number, what: string): string {
  const value = args.positionals[index];
  if (value === undefined) throw new UsageError(`missing ${what}`);
  if (value === "") throw new UsageError(`empty ${what}`);
  return value;
}
