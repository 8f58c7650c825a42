/**
 * The fair comparison of the compatible doors with v1 (`run_all.ts --doors`): each door's rows
 * beside v1 rows of the same request pattern, on the same broker, interleaved round by round.
 *
 * What "the same request pattern" means here:
 *
 * - Both sides use a bare client of the same transport (`--client fetch` for v1 and the door
 *   clients of `door_clients.ts` over `fetch`; with `--client http1` given, v1 and the doors over
 *   the SDK's `Http1Transport`, whose lower client CPU leaves the broker more of the machine), so
 *   the client's own cost is alike.
 * - Consumers acknowledge with a separate delete request after each receive
 *   (`--ack-mode separate`) on both sides: neither door can delete on the next receive, so
 *   v1's piggybacked deletes would compare one request with two.
 * - CMQ keeps `--batch` (at most 16, CMQ's own limit); SQS runs at `--batch` capped at 10 on
 *   both sides, since an SQS batch holds at most 10 entries. That is what an SQS application
 *   sends: SendMessageBatch and ReceiveMessage of 10, not a 16-batch split in two.
 *
 * @module
 */

import type { LoadOptions, LoadResult, Shape } from "./load.ts";
import { runShape, shapeList } from "./load.ts";

/** The doors the comparison covers. */
export type Door = "cmq" | "sqs";

/** SQS's entries per batch request. */
export const sqsBatchEntriesMax = 10;

/** One door and the v1 load of the same pattern. */
export interface DoorPair {
  door: Door;
  /** v1 in the door's request pattern. */
  v1: LoadOptions;
  /** The door itself. */
  through: LoadOptions;
}

/** The v1 and door options of each door, in the pattern described in the module comment. */
export function doorPairs(options: LoadOptions): DoorPair[] {
  return (["cmq", "sqs"] as const).map((door) => {
    const batch = door === "sqs" ? Math.min(options.batch, sqsBatchEntriesMax) : options.batch;
    const common = { ...options, batch, ackMode: "separate" as const, api: "raw", repeat: 1 };
    const http1 = options.client === "http1";
    const config = `batch ${batch}, ack separate${http1 ? ", http1 clients" : ""}`;
    return {
      door,
      v1: { ...common, client: http1 ? "http1" : "fetch", system: `cmqd-v1-as-${door}`, config },
      through: {
        ...common,
        client: http1 ? `${door}-http1` : door,
        system: `cmqd-${door}`,
        config,
      },
    };
  });
}

/** The rows of one comparison, by door, side and shape (one row per round). */
export type DoorRows = Map<string, LoadResult[]>;

function rowKey(door: Door, side: "v1" | "door", shape: Shape): string {
  return `${door}/${side}/${shape}`;
}

/**
 * Runs every shape of `options` through each door and through v1 in the matching pattern,
 * `options.repeat` rounds; within a round, v1 and the door run back to back on each shape, so
 * a change in the machine's load hits both sides alike.
 */
export async function runDoorComparison(
  options: LoadOptions,
  target: { url: string; pid: number },
  emit: (result: LoadResult) => void,
): Promise<DoorRows> {
  const rows: DoorRows = new Map();
  const run = async (load: LoadOptions, key: string, shape: Shape) => {
    const result = await runShape({ ...load, url: target.url, pid: target.pid }, shape);
    emit({ ...result, round: rows.get(key)?.length ?? 0 });
    rows.set(key, [...rows.get(key) ?? [], result]);
  };
  const shapes = shapeList(options.shape).filter((shape) =>
    shape !== "backlog" && shape !== "latency"
  );
  for (let round = 0; round < Math.max(1, options.repeat); round++) {
    for (const pair of doorPairs(options)) {
      for (const shape of shapes) {
        await run(pair.v1, rowKey(pair.door, "v1", shape), shape);
        await run(pair.through, rowKey(pair.door, "door", shape), shape);
      }
    }
  }
  return rows;
}

/** The median of the numbers among `values`, or null without any. */
export function median(values: readonly unknown[]): number | null {
  const numbers = values.filter((value): value is number => typeof value === "number").sort((
    a,
    b,
  ) => a - b);
  if (numbers.length === 0) return null;
  const middle = numbers.length >> 1;
  return numbers.length % 2 === 1
    ? numbers[middle]
    : Math.round((numbers[middle - 1] + numbers[middle]) / 2);
}

/**
 * The broker's CPU time per message sent or acknowledged in a row (µs), or null without the
 * broker's CPU figure. Less moved by other processes on the machine than throughput is.
 */
export function cpuPerMessage(row: LoadResult): number | null {
  const cpuPct = row.brokerCpuPct;
  const messages = (row.producedPerSec ?? 0) + (row.consumedPerSec ?? 0);
  if (typeof cpuPct !== "number" || messages <= 0) return null;
  return Math.round((cpuPct / 100) * 1e6 / messages);
}

/**
 * The fair table: per door and shape, the median produced/s and consumed/s of v1 in the door's
 * pattern and of the door, the door's share of v1, and the broker's CPU µs per message.
 */
export function doorTable(options: LoadOptions, rows: DoorRows): string {
  const format = (value: number | null) => (value === null ? "–" : String(value));
  const ratio = (door: number | null, v1: number | null) =>
    door !== null && v1 !== null && v1 > 0 ? `${Math.round((100 * door) / v1)}%` : "–";
  const lines = [
    "| door | shape | pattern | rounds | v1 produced/s | door produced/s | ratio | v1 consumed/s | door consumed/s | ratio | broker CPU µs/msg v1 / door |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const pair of doorPairs(options)) {
    for (const shape of shapeList(options.shape)) {
      const v1 = rows.get(rowKey(pair.door, "v1", shape)) ?? [];
      const door = rows.get(rowKey(pair.door, "door", shape)) ?? [];
      if (v1.length === 0 && door.length === 0) continue;
      const produced = [v1, door].map((list) => median(list.map((row) => row.producedPerSec)));
      const consumed = [v1, door].map((list) => median(list.map((row) => row.consumedPerSec)));
      lines.push(
        `| ${pair.door} | ${shape} | ${pair.through.config} | ${door.length} | ${
          format(produced[0])
        } | ${format(produced[1])} | ${ratio(produced[1], produced[0])} | ${
          format(consumed[0])
        } | ${format(consumed[1])} | ${ratio(consumed[1], consumed[0])} | ${
          format(median(v1.map(cpuPerMessage)))
        } / ${format(median(door.map(cpuPerMessage)))} |`,
      );
    }
  }
  return lines.join("\n");
}
