/**
 * The names of the `CMQD_*` environment variables the broker is given: one it does not know is
 * named at start with the nearest known name, in a warning. Otherwise a typo in a unit file
 * (`CMQD_DATADIR`, `CMQD_PEERTLS`) ran the broker on its defaults without a word. A warning, not a
 * refusal as for an unknown flag: the environment is shared with other programs (an
 * application's own `CMQD_QUEUE` beside a test broker, a container's variables).
 *
 * @module
 */

/** The prefix of the broker's variables (matched in any case: `cmqd_port` is named too). */
const prefix = "CMQD_";

/**
 * `CMQD_` variables of this project that are not the broker's configuration, left alone: the
 * CLI's and the SDK examples' broker URL and credentials, and the test helpers' way to the
 * broker program (`sdk/testing.ts`, `tests/integration/process.ts`). A shell that runs the CLI
 * may start a broker too.
 */
export const otherProgramsEnv: readonly string[] = [
  "CMQD_URL",
  "CMQD_SECRET_ID",
  "CMQD_SECRET_KEY",
  "CMQD_COMMAND",
  "CMQD_MAIN",
];

/**
 * Throws for a variable of `env` in `refused` (a flag without a variable, with its reason).
 *
 * @example
 * ```ts
 * checkEnvNames({ CMQD_FORCE_NEW_CLUSTER: "1" }, { CMQD_FORCE_NEW_CLUSTER: "a flag only" });
 * // throws: CMQD_FORCE_NEW_CLUSTER: a flag only
 * ```
 */
export function checkEnvNames(
  env: Record<string, string>,
  refused: Readonly<Record<string, string>>,
): void {
  for (const name of Object.keys(env).sort()) {
    if (Object.hasOwn(refused, name)) throw new Error(`${name}: ${refused[name]}`);
  }
}

/**
 * One warning for each variable of `env` whose name starts with `CMQD_` (in any case) and is
 * neither in `known`, in `refused` nor in {@link otherProgramsEnv}, naming the nearest known one.
 *
 * @example
 * ```ts
 * unknownEnvWarnings({ CMQD_DATADIR: "/var/lib/cmqd" }, ["CMQD_DATA_DIR"], {});
 * // ["unknown environment variable CMQD_DATADIR, not used (the nearest known one is ...)"]
 * ```
 */
export function unknownEnvWarnings(
  env: Record<string, string>,
  known: readonly string[],
  refused: Readonly<Record<string, string>>,
): string[] {
  return Object.keys(env).sort().filter((name) =>
    name.toUpperCase().startsWith(prefix) && !known.includes(name) &&
    !otherProgramsEnv.includes(name) && !Object.hasOwn(refused, name)
  ).map((name) =>
    `unknown environment variable ${name}, not used (the nearest known one is ` +
    `${nearest(name.toUpperCase(), known)}; --help lists the broker's variables)`
  );
}

/** The name of `names` fewest single-character edits away from `name` (the first on a tie). */
function nearest(name: string, names: readonly string[]): string {
  let best = names[0];
  let bestDistance = Infinity;
  for (const candidate of names) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

/** Levenshtein distance: insertions, deletions and substitutions of one character. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j] + 1,
        current[j - 1] + 1,
        previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length];
}
