/**
 * What the whole machine did over a measured window: CPU busy across all cores, each cluster
 * node's CPU, and the disks' busy time and write rate, from Linux `/proc/stat`,
 * `/proc/PID/stat` and `/proc/diskstats`. A three-node run on one machine shares its cores and
 * its disk between the nodes and the load generator; these fields say which of them ran out.
 *
 * @module
 */

import { cpuSeconds } from "./process_stats.ts";

/** Jiffies of all cores together from `/proc/stat`'s first line, and how many cores there are. */
export interface MachineCpu {
  /** Time not idle and not waiting for I/O. */
  busy: number;
  total: number;
  cores: number;
}

/**
 * Parses `/proc/stat`: its `cpu` line (user nice system idle iowait irq softirq steal; guest time
 * is already inside user and nice) and the count of `cpuN` lines. Null for text that lacks them.
 */
export function parseProcStat(text: string): MachineCpu | null {
  const lines = text.split("\n");
  const first = lines.find((line) => line.startsWith("cpu "));
  if (first === undefined) return null;
  const fields = first.trim().split(/\s+/).slice(1, 9).map(Number);
  if (fields.length < 5 || fields.some((value) => !Number.isFinite(value))) return null;
  const total = fields.reduce((sum, value) => sum + value, 0);
  const idle = fields[3] + fields[4];
  const cores = lines.filter((line) => /^cpu\d+ /.test(line)).length;
  return { busy: total - idle, total, cores: Math.max(cores, 1) };
}

/** One whole disk's counters from `/proc/diskstats`. */
export interface DiskCounters {
  device: string;
  /** Milliseconds the device had I/O in flight (`io_ticks`). */
  busyMs: number;
  /** 512-byte sectors written. */
  sectorsWritten: number;
}

/**
 * Parses `/proc/diskstats`, keeping only the devices named in `disks` (whole disks: a partition's
 * I/O is already counted in its disk's).
 */
export function parseDiskStats(text: string, disks: ReadonlySet<string>): DiskCounters[] {
  const result: DiskCounters[] = [];
  for (const line of text.split("\n")) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 13 || !disks.has(fields[2])) continue;
    const sectorsWritten = Number(fields[9]);
    const busyMs = Number(fields[12]);
    if (!Number.isFinite(sectorsWritten) || !Number.isFinite(busyMs)) continue;
    result.push({ device: fields[2], busyMs, sectorsWritten });
  }
  return result;
}

/** The whole disks of this machine (`/sys/block`, without loop and RAM devices). */
export function wholeDisks(): Set<string> {
  const disks = new Set<string>();
  try {
    for (const entry of Deno.readDirSync("/sys/block")) {
      if (!/^(loop|ram|zram)/.test(entry.name)) disks.add(entry.name);
    }
  } catch {
    // Not Linux, or no sysfs: no disk figures.
  }
  return disks;
}

/** The window's figures; null where `/proc` could not be read. */
export interface MachineUse {
  /** All cores' busy time, in % of one core (200 is two cores fully busy). */
  machineBusyPct: number | null;
  /** Each of `--node-pids`' CPU in % of one core, in the order given; null without the option. */
  nodeCpuPct: (number | null)[] | null;
  /** The busiest whole disk's time with I/O in flight, in % of the window. */
  diskBusyPct: number | null;
  /** Bytes written to all whole disks, in MB (10^6) per second. */
  diskWriteMBps: number | null;
}

function readText(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return null;
  }
}

interface Reading {
  atMs: number;
  cpu: MachineCpu | null;
  nodes: (number | null)[];
  disks: DiskCounters[];
}

/**
 * Measures the machine over a window (`start()`, then `stop()`).
 *
 * @example
 * ```ts
 * const meter = new MachineMeter([leaderPid, followerPid, otherFollowerPid]);
 * meter.start();
 * // ... the load ...
 * const { machineBusyPct, nodeCpuPct, diskBusyPct } = meter.stop();
 * ```
 */
export class MachineMeter {
  readonly #nodePids: readonly number[];
  readonly #disks = wholeDisks();
  #start: Reading | null = null;

  constructor(nodePids: readonly number[]) {
    this.#nodePids = nodePids;
  }

  #read(): Reading {
    const stat = readText("/proc/stat");
    const diskText = readText("/proc/diskstats");
    return {
      atMs: performance.now(),
      cpu: stat === null ? null : parseProcStat(stat),
      nodes: this.#nodePids.map((pid) => cpuSeconds(pid)),
      disks: diskText === null ? [] : parseDiskStats(diskText, this.#disks),
    };
  }

  start(): void {
    this.#start = this.#read();
  }

  stop(): MachineUse {
    const start = this.#start;
    if (start === null) throw new Error("MachineMeter.stop() before start()");
    const end = this.#read();
    const seconds = (end.atMs - start.atMs) / 1000;
    const tenth = (value: number) => Math.round(value * 10) / 10;
    let machineBusyPct: number | null = null;
    if (start.cpu !== null && end.cpu !== null && end.cpu.total > start.cpu.total) {
      const share = (end.cpu.busy - start.cpu.busy) / (end.cpu.total - start.cpu.total);
      machineBusyPct = tenth(100 * share * end.cpu.cores);
    }
    const nodeCpuPct = this.#nodePids.length === 0 ? null : end.nodes.map((seconds1, index) => {
      const seconds0 = start.nodes[index];
      return seconds0 === null || seconds1 === null || seconds <= 0
        ? null
        : tenth((100 * (seconds1 - seconds0)) / seconds);
    });
    let diskBusyPct: number | null = null;
    let diskWriteMBps: number | null = null;
    if (seconds > 0 && end.disks.length > 0) {
      let busiest = 0;
      let sectors = 0;
      for (const disk of end.disks) {
        const before = start.disks.find((each) => each.device === disk.device);
        if (before === undefined) continue;
        busiest = Math.max(busiest, disk.busyMs - before.busyMs);
        sectors += disk.sectorsWritten - before.sectorsWritten;
      }
      diskBusyPct = tenth(Math.min(100, busiest / (10 * seconds)));
      diskWriteMBps = tenth((sectors * 512) / 1e6 / seconds);
    }
    return { machineBusyPct, nodeCpuPct, diskBusyPct, diskWriteMBps };
  }
}

/** The PIDs of a comma list (`--node-pids 101,102,103`); `""` gives none. */
export function pidList(text: string): number[] {
  return text.split(",").map((part) => part.trim()).filter((part) => part !== "").map((part) => {
    const pid = Number(part);
    if (!Number.isSafeInteger(pid) || pid <= 0) {
      throw new Error(`--node-pids: '${part}' is not a PID`);
    }
    return pid;
  });
}
