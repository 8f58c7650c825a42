/**
 * Runs many seeds of the simulation: `deno task sim --seeds 10000 [--from 1] [--steps 60]`
 * (`--io-errors` adds disk I/O errors; `--io-rate <per mille>` sets their rate, default 30;
 * `--no-admin` leaves out the admin workload; `--soak <s>` runs it on that long after healing).
 * A failing seed prints `SEED=<n>` and the command that replays it alone: a seed's run depends
 * on the seed and the steps only, not on the process or the seeds run before it (see
 * `scheduler.ts` for what once made it depend on both).
 *
 * @module
 */
import { simulate } from "./simulate.ts";

function flag(name: string, fallback: number): number {
  const at = Deno.args.indexOf(`--${name}`);
  if (at === -1) return fallback;
  const value = Number(Deno.args[at + 1]);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`--${name} needs an integer`);
  return value;
}

const seeds = flag("seeds", 100);
const from = flag("from", 1);
const steps = flag("steps", 60);
const ioErrors = Deno.args.includes("--io-errors");
const ioErrorRate = flag("io-rate", 30) / 1000;
const admin = !Deno.args.includes("--no-admin");
const adminSoakMs = flag("soak", 0) * 1000;
const ioFlags = (ioErrors ? ` --io-errors --io-rate ${ioErrorRate * 1000}` : "") +
  (admin ? "" : " --no-admin") + (adminSoakMs > 0 ? ` --soak ${adminSoakMs / 1000}` : "");
const started = performance.now();
let failures = 0;
for (let seed = from; seed < from + seeds; seed++) {
  try {
    const report = await simulate({ seed, steps, ioErrors, ioErrorRate, admin, adminSoakMs });
    if (Deno.args.includes("--verbose")) console.log(JSON.stringify(report));
  } catch (error) {
    failures++;
    console.error(`SEED=${seed} failed: ${(error as Error).stack ?? error}`);
    const replay = `deno run -A tests/simulation/run.ts --steps ${steps}${ioFlags} --verbose`;
    console.error(`replay: ${replay} --from ${seed} --seeds 1`);
    if (Deno.args.includes("--stop")) break;
  }
}
const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(`${seeds} seeds from ${from}, ${steps} steps each: ${failures} failed (${seconds} s)`);
if (failures > 0) Deno.exit(1);
