/**
 * Node vs Deno client throughput on one broker: bundles `runtime_load_main.ts` (the SDK and the
 * load generator's lanes) with `deno bundle`, then runs the "both" shape under Deno and under
 * Node, for each `--api`, one after the other against `--url`. JSON lines on stdout, a table on
 * stderr. Only the client runtime differs between the rows.
 *
 * ```sh
 * deno run -A bench/runtimes.ts --url http://127.0.0.1:9876 --seconds 3 --api raw,helpers
 * ```
 *
 * Any other flag (`--producers`, `--consumers`, `--batch`, `--inflight`, `--size`, `--warmup`)
 * goes to each run as it is.
 *
 * @module
 */

/** Runs the comparison; answers the rows. */
export async function compareRuntimes(
  args: string[],
  onRow: (row: Record<string, unknown>) => void = () => {},
): Promise<Record<string, unknown>[]> {
  const at = args.indexOf("--api");
  const apis = at >= 0 ? args[at + 1].split(",") : ["raw", "helpers"];
  const rest = at >= 0 ? [...args.slice(0, at), ...args.slice(at + 2)] : args;
  const directory = await Deno.makeTempDir({ prefix: "cmqd-runtimes-" });
  try {
    const bundle = `${directory}/runtime_load.mjs`;
    await run(Deno.execPath(), [
      "bundle",
      "--platform=browser",
      "--format=esm",
      "-o",
      bundle,
      new URL("./runtime_load_main.ts", import.meta.url).pathname,
    ]);
    const rows: Record<string, unknown>[] = [];
    for (const api of apis) {
      for (const runtime of ["deno", "node"]) {
        const command = runtime === "deno"
          ? [Deno.execPath(), "run", "-A", bundle]
          : ["node", bundle];
        const output = await run(command[0], [...command.slice(1), ...rest, "--api", api]);
        const row = JSON.parse(output.trim().split("\n").at(-1)!);
        onRow(row);
        rows.push(row);
      }
    }
    return rows;
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
}

async function run(command: string, args: string[]): Promise<string> {
  const output = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" })
    .output();
  const stdout = new TextDecoder().decode(output.stdout);
  if (!output.success) {
    throw new Error(`${command} ${args.join(" ")}:\n${new TextDecoder().decode(output.stderr)}`);
  }
  return stdout;
}

const usage = `usage: deno run -A bench/runtimes.ts --url <broker> [--api raw,helpers] [--seconds N]
  [--producers N] [--consumers N] [--batch N] [--inflight N] [--size BYTES] [--warmup N]
Runs the "both" shape with the SDK bundled for Deno and for Node, one runtime after the other,
for each --api; flags other than --api go to each run as given.`;

if (import.meta.main) {
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    console.log(usage);
    Deno.exit(0);
  }
  const at = Deno.args.indexOf("--api");
  if (at >= 0 && !Deno.args[at + 1]) {
    console.error(`--api needs a value\n${usage}`);
    Deno.exit(2);
  }
  const rows = await compareRuntimes(Deno.args, (row) => console.log(JSON.stringify(row)));
  console.error("runtime  api      produced/s  consumed/s");
  for (const row of rows) {
    console.error(
      `${String(row.runtime).padEnd(8)} ${String(row.api).padEnd(8)} ` +
        `${String(row.producedPerSec).padStart(10)}  ${String(row.consumedPerSec).padStart(10)}`,
    );
  }
}
