/**
 * Prints a Markdown table of JSON-line results (cmqd, the no-op ceiling, or the anchors' own
 * lines, which share the fields): one row per system, config, replicas, shape and connection
 * count, with every run's figure and their median. A `-run<label>` suffix of `config` is dropped
 * when grouping, so repeated runs land in one row.
 *
 * ```sh
 * deno run -A bench/summarize.ts bench/results/*.jsonl
 * ```
 *
 * @module
 */

/** The fields of a result line this table reads. */
export interface ResultLine {
  system: string;
  config: string;
  replicas: number;
  shape: string;
  producers: number;
  consumers: number;
  producedPerSec: number | null;
  consumedPerSec: number | null;
  p50ms: number | null;
  p99ms: number | null;
}

/** The median of the numbers (mean of the middle two for an even count), or null. */
export function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function cell(values: (number | null)[], digits = 0): string {
  const present = values.filter((value): value is number => typeof value === "number");
  if (present.length === 0) return "–";
  const shown = (value: number) => value.toFixed(digits);
  return `${present.map(shown).join(", ")} → **${shown(median(present) ?? 0)}**`;
}

/** The table for `lines`, rows in first-seen order. */
export function summarize(lines: ResultLine[]): string {
  const groups = new Map<string, ResultLine[]>();
  for (const line of lines) {
    const config = line.config.replace(/-run[\w-]+$/, "");
    const key = [line.system, config, line.replicas, line.shape, line.producers, line.consumers]
      .join("|");
    groups.set(key, [...(groups.get(key) ?? []), line]);
  }
  const rows = [
    "| system | config | replicas | shape | prod/cons | produced/s (runs → median) | consumed/s | p50 ms | p99 ms |",
    "|---|---|---|---|---|---|---|---|---|",
  ];
  for (const [key, runs] of groups) {
    const [system, config, replicas, shape, producers, consumers] = key.split("|");
    rows.push(
      `| ${system} | ${config} | ${replicas} | ${shape} | ${producers}/${consumers} | ${
        cell(runs.map((run) => run.producedPerSec))
      } | ${cell(runs.map((run) => run.consumedPerSec))} | ${
        cell(runs.map((run) => run.p50ms), 2)
      } | ${cell(runs.map((run) => run.p99ms), 2)} |`,
    );
  }
  return rows.join("\n");
}

if (import.meta.main) {
  const lines: ResultLine[] = [];
  for (const path of Deno.args) {
    for (const text of (await Deno.readTextFile(path)).split("\n")) {
      if (text.trim().startsWith("{")) lines.push(JSON.parse(text));
    }
  }
  console.log(summarize(lines));
}
