/**
 * The whole-system load generator: produce, consume, both, latency and backlog against
 * a running broker (or the no-op server), through the SDK, one JSON line per figure on stdout.
 *
 * ```sh
 * deno run -A bench/load.ts --url http://127.0.0.1:8080 --shape all --producers 4 --consumers 4
 * deno run -A bench/load.ts --url http://127.0.0.1:8080 --shape both --api raw,helpers
 * deno run -A bench/load.ts --url http://127.0.0.1:8080 --shape backlog --pid-file broker.pid \
 *   --restart-cmd './restart-broker.sh'
 * ```
 *
 * Every option is in `load_options.ts` (`--help` lists them).
 *
 * @module
 */

import { type RestartBroker, runBacklog } from "./backlog.ts";
import {
  apiList,
  defaultLoadOptions,
  type LoadOptions,
  parseLoadArgs,
  shapeList,
} from "./load_options.ts";
import { type LoadResult, runShape } from "./load_shapes.ts";

export { type RestartBroker, runBacklog } from "./backlog.ts";
export {
  defaultLoadOptions,
  type LoadOptions,
  parseLoadArgs,
  type Shape,
  shapeList,
} from "./load_options.ts";
export { type LoadResult, runShape } from "./load_shapes.ts";

/** Options of `runLoad`. */
export interface RunLoadOptions {
  /** Called with each row as soon as it is measured. */
  onResult?: (result: LoadResult) => void;
  /** How the backlog shape restarts the broker (default: `--restart-cmd`, if any). */
  restart?: RestartBroker;
}

/**
 * Runs every shape `options.shape` names, `options.repeat` times, and returns the rows.
 *
 * @example
 * ```ts
 * const rows = await runLoad(parseLoadArgs(["--url", url, "--shape", "produce,both"]));
 * ```
 */
export async function runLoad(
  options: LoadOptions,
  runOptions: RunLoadOptions = {},
): Promise<LoadResult[]> {
  const results: LoadResult[] = [];
  for (let round = 0; round < options.repeat; round++) {
    for (const shape of shapeList(options.shape)) {
      // Each api on the same shape back to back, so their rows compare on one run.
      for (const api of shape === "backlog" ? ["raw"] : apiList(options.api)) {
        const result = shape === "backlog"
          ? await runBacklog(options, runOptions.restart)
          : await runShape({ ...options, api }, shape);
        runOptions.onResult?.(result);
        results.push(result);
      }
    }
  }
  return results;
}

/** The options and their defaults, as `--help` prints them. */
export function usage(): string {
  const lines = Object.entries(defaultLoadOptions).map(([key, value]) =>
    `  --${key.replace(/[A-Z]/g, (letter) => "-" + letter.toLowerCase())} ${JSON.stringify(value)}`
  );
  return `usage: deno run -A bench/load.ts [options]\noptions (defaults):\n${lines.join("\n")}`;
}

if (import.meta.main) {
  if (Deno.args.includes("--help")) {
    console.log(usage());
    Deno.exit(0);
  }
  let options: LoadOptions;
  try {
    options = parseLoadArgs(Deno.args);
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : error}\n${usage()}`);
    Deno.exit(2);
  }
  try {
    await runLoad(options, { onResult: (result) => console.log(JSON.stringify(result)) });
  } catch (error) {
    // A broker gone (never there, killed during the run): one line, not a stack trace.
    console.error(`load: ${error instanceof Error ? error.message : error}`);
    Deno.exit(1);
  }
}
