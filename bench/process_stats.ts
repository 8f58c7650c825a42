/**
 * CPU and memory of processes, from Linux `/proc` or the broker's `/metrics`.
 *
 * @module
 */

/** Linux USER_HZ, the unit of utime and stime in /proc/PID/stat, on every mainstream kernel. */
const clockTicksPerSecond = 100;

/** CPU seconds (user + system) a process used so far, or null when it can't be read. */
export function cpuSeconds(pid: number | "self"): number | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // The command name may hold spaces; fields restart after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond;
  } catch {
    return null;
  }
}

/** CPU seconds the processes used so far, summed; null when the list is empty or one is unreadable. */
export function cpuSecondsOf(pids: readonly number[]): number | null {
  if (pids.length === 0) return null;
  let sum = 0;
  for (const pid of pids) {
    const seconds = cpuSeconds(pid);
    if (seconds === null) return null;
    sum += seconds;
  }
  return sum;
}

/**
 * Measures the CPU of this process and optionally of others (summed: a cluster's nodes) over a
 * window, in % of one core.
 */
export class CpuMeter {
  #pids: number[];
  #startMs = 0;
  #selfStart: number | null = null;
  #otherStart: number | null = null;

  /** `pid` 0 (or an empty list) measures only this process; a list sums its processes. */
  constructor(pid: number | readonly number[]) {
    this.#pids = (typeof pid === "number" ? [pid] : [...pid]).filter((each) => each > 0);
  }

  start(): void {
    this.#startMs = performance.now();
    this.#selfStart = cpuSeconds("self");
    this.#otherStart = cpuSecondsOf(this.#pids);
  }

  stop(): { clientCpuPct: number | null; brokerCpuPct: number | null } {
    const seconds = (performance.now() - this.#startMs) / 1000;
    const percent = (start: number | null, end: number | null) =>
      start === null || end === null || seconds <= 0
        ? null
        : Math.round((1000 * (end - start)) / seconds) / 10;
    return {
      clientCpuPct: percent(this.#selfStart, cpuSeconds("self")),
      brokerCpuPct: this.#pids.length > 0
        ? percent(this.#otherStart, cpuSecondsOf(this.#pids))
        : null,
    };
  }
}

/** Resident set size of a process from /proc/PID/status, in bytes, or null. */
export function rssFromProc(pid: number): number | null {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match === null ? null : Number(match[1]) * 1024;
  } catch {
    return null;
  }
}

/** Resident memory of a process by kind (bytes): anonymous (heap) and file-backed (maps). */
export interface RssBreakdown {
  rssBytes: number;
  rssAnonBytes: number;
  rssFileBytes: number;
}

/** VmRSS, RssAnon and RssFile from /proc/PID/status, or null. */
export function rssBreakdownFromProc(pid: number): RssBreakdown | null {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const field = (name: string) =>
      Number(new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, "m").exec(status)?.[1]) * 1024;
    const breakdown = {
      rssBytes: field("VmRSS"),
      rssAnonBytes: field("RssAnon"),
      rssFileBytes: field("RssFile"),
    };
    return Object.values(breakdown).every(Number.isFinite) ? breakdown : null;
  } catch {
    return null;
  }
}

/** `process_resident_memory_bytes` from a Prometheus text page, or null. */
export function rssFromMetricsText(text: string): number | null {
  const match = /^process_resident_memory_bytes(?:\{[^}]*\})?\s+([0-9.eE+]+)/m.exec(text);
  return match === null ? null : Number(match[1]);
}

/** A broker's disk work so far, from its `/metrics` page. */
export interface BrokerDisk {
  fsyncs: number;
  fsyncSeconds: number;
  appliedIndex: number;
}

/** `cmqd_fsyncs_total`, `cmqd_fsync_seconds_total` and `cmqd_applied_index`, or null. */
export function diskFromMetricsText(text: string): BrokerDisk | null {
  const value = (name: string) =>
    Number(new RegExp(`^${name}(?:\\{[^}]*\\})?\\s+([0-9.eE+-]+)`, "m").exec(text)?.[1]);
  const disk = {
    fsyncs: value("cmqd_fsyncs_total"),
    fsyncSeconds: value("cmqd_fsync_seconds_total"),
    appliedIndex: value("cmqd_applied_index"),
  };
  return Object.values(disk).every(Number.isFinite) ? disk : null;
}

/** The broker's disk counters (`GET /metrics`), or null (another server, no access). */
export async function readBrokerDisk(url: string): Promise<BrokerDisk | null> {
  try {
    const response = await fetch(`${url.replace(/\/+$/, "")}/metrics`);
    const text = await response.text();
    return response.ok ? diskFromMetricsText(text) : null;
  } catch {
    return null;
  }
}

/** What the broker's disk did per message between two readings (nulls when unknown). */
export interface DiskPerMessage {
  brokerFsyncsPerMessage: number | null;
  brokerFsyncMeanMs: number | null;
  logEntriesPerMessage: number | null;
}

/** Per-message figures of a window in which `messages` went through the broker. */
export function diskPerMessage(
  start: BrokerDisk | null,
  end: BrokerDisk | null,
  messages: number,
): DiskPerMessage {
  if (start === null || end === null || messages <= 0) {
    return { brokerFsyncsPerMessage: null, brokerFsyncMeanMs: null, logEntriesPerMessage: null };
  }
  const fsyncs = end.fsyncs - start.fsyncs;
  const round = (value: number) => Math.round(value * 1000) / 1000;
  return {
    brokerFsyncsPerMessage: round(fsyncs / messages),
    brokerFsyncMeanMs: fsyncs > 0
      ? round((1000 * (end.fsyncSeconds - start.fsyncSeconds)) / fsyncs)
      : null,
    logEntriesPerMessage: round((end.appliedIndex - start.appliedIndex) / messages),
  };
}

/** Where to read a broker's RSS from. */
export interface RssSource {
  url: string;
  /** When > 0, /proc/PID/status wins over /metrics. */
  pid: number;
}

/** The broker's RSS in bytes: /proc when a PID is known, otherwise `GET /metrics`. */
export async function readRssBytes(source: RssSource): Promise<number | null> {
  if (source.pid > 0) return rssFromProc(source.pid);
  try {
    const response = await fetch(`${source.url.replace(/\/+$/, "")}/metrics`);
    const text = await response.text();
    return response.ok ? rssFromMetricsText(text) : null;
  } catch {
    return null;
  }
}

/** The PID given directly or read from a PID file; 0 when neither is set. */
export function resolvePid(options: { pid: number; pidFile: string }): number {
  if (options.pid > 0) return options.pid;
  if (options.pidFile === "") return 0;
  try {
    const pid = Number(Deno.readTextFileSync(options.pidFile).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : 0;
  } catch {
    return 0;
  }
}

/**
 * The PIDs in a comma list of PID files (e.g. RabbitMQ's `beam.pid`, one per node); `""` gives
 * none. A file that can't be read or holds no PID is an error, not a silently missing CPU figure.
 */
export function readPidFiles(files: string): number[] {
  return files.split(",").map((file) => file.trim()).filter((file) => file !== "").map((file) => {
    let text: string;
    try {
      text = Deno.readTextFileSync(file);
    } catch (error) {
      throw new Error(`${file}: ${error instanceof Error ? error.message : String(error)}`);
    }
    const pid = Number(text.trim());
    if (!Number.isSafeInteger(pid) || pid <= 0) throw new Error(`${file}: not a PID`);
    return pid;
  });
}

/**
 * Polls `GET /readyz` until it answers 200; returns the milliseconds it took, or null on timeout.
 * With the server's `process`, throws as soon as that process has exited instead.
 */
export async function waitReady(
  url: string,
  timeoutMs: number,
  options: { process?: Deno.ChildProcess } = {},
): Promise<number | null> {
  const startMs = performance.now();
  const readyUrl = `${url.replace(/\/+$/, "")}/readyz`;
  // A server that exits while starting is never ready: say so now, not after the whole timeout.
  const seen: { exit: Deno.CommandStatus | null } = { exit: null };
  options.process?.status.then((status) => (seen.exit = status));
  while (performance.now() - startMs < timeoutMs) {
    try {
      const response = await fetch(readyUrl);
      await response.body?.cancel();
      if (response.status === 200) return performance.now() - startMs;
    } catch {
      // not listening yet
    }
    if (seen.exit !== null) {
      throw new Error(`the server exited with status ${seen.exit.code} before it was ready`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return null;
}

/** A loopback port free right now (the OS picks it; a bench starts its server on it). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/**
 * A lone node's flags for a bench's broker on loopback: no peer port (a node running alone refuses
 * cluster-only flags), free-disk guard off (benches fill the disk on purpose).
 */
export function loneNodeArgs(port: number, dataDir: string): string[] {
  return [
    ...["--host", "127.0.0.1", "--port", String(port)],
    ...["--data-dir", dataDir, "--min-free-disk-mb", "0"],
  ];
}
