/**
 * One cmqd node: opens the data directory, recovers the log and the newest snapshot, builds the
 * replica, the service and the HTTP app. `main.ts` wires the real clock and file system into it;
 * tests build nodes in-process with the same function.
 *
 * Data directory layout:
 * - `log/` — the segment log (the Raft log): `<20-digit base index>.log` segments + hard state.
 * - `snapshots/` — state-machine snapshots, `snapshot-<20-digit index>.bin`; the newest valid one
 *   is loaded at start and the log is replayed from the entry after it.
 *
 * @module
 */
import {
  type FileSystem,
  readSnapshotFile,
  SegmentLog,
  writeSnapshotFile,
} from "../storage/mod.ts";
import { createApp } from "./http/app.ts";
import { Metrics } from "./metrics.ts";
import { type Clock, Replica } from "./replica.ts";
import { Broker } from "./service.ts";
import type { NodeStatus } from "./service_types.ts";
import { StateMachine } from "./state_machine.ts";
import { CommandType, encodeTick } from "./commands.ts";
import type { ClusterInfo } from "../sdk/protocol.ts";

/** Options of `startNode`. */
export interface NodeOptions {
  nodeId: string;
  dataDir: string;
  fs: FileSystem;
  clock: Clock;
  /** Take a snapshot after this many applied entries (bounds replay time at restart). */
  snapshotEntriesInterval?: number;
  /** How often the node checks whether housekeeping (expiry, dedup trimming) needs a Tick. */
  tickIntervalMs?: number;
  segmentBytesMax?: number;
  mmap?: boolean;
  /** Base URL this node serves, for `/v1/cluster`. */
  url?: string;
}

/** A running node (without the HTTP listener, which the caller owns). */
export interface CmqdNode {
  app: ReturnType<typeof createApp>;
  broker: Broker;
  machine: StateMachine;
  replica: Replica;
  log: SegmentLog;
  metrics: Metrics;
  /** Stop taking writes, answer parked receives, snapshot, close the log. */
  close(): Promise<void>;
}

const snapshotPattern = /^snapshot-(\d{20})\.bin$/;

function snapshotName(index: number): string {
  return `snapshot-${String(index).padStart(20, "0")}.bin`;
}

/** Loads the newest snapshot that verifies; a torn or corrupt one is skipped, never trusted. */
async function loadNewestSnapshot(fs: FileSystem, dir: string): Promise<StateMachine | null> {
  await fs.mkdirp(dir);
  const names = (await fs.readDir(dir)).filter((name) => snapshotPattern.test(name)).sort()
    .reverse();
  for (const name of names) {
    const bytes = await readSnapshotFile(fs, dir, name);
    if (bytes) return StateMachine.restore(bytes);
  }
  return null;
}

/**
 * Opens (recovering) and starts a node.
 *
 * @example
 * ```ts
 * const node = await startNode({ nodeId: "n1", dataDir: "./data", fs: new RealFileSystem(), clock });
 * Deno.serve({ port: 9876 }, node.app.fetch);
 * ```
 */
export async function startNode(options: NodeOptions): Promise<CmqdNode> {
  const { fs, dataDir } = options;
  const snapshotsDir = `${dataDir}/snapshots`;
  const log = await SegmentLog.open(`${dataDir}/log`, {
    fs,
    segmentBytesMax: options.segmentBytesMax,
    mmap: options.mmap,
  });
  const machine = (await loadNewestSnapshot(fs, snapshotsDir)) ?? new StateMachine();
  replay(log, machine);
  let snapshotIndex = machine.appliedIndex;
  const snapshotEvery = options.snapshotEntriesInterval ?? 200_000;
  let snapshotting = false;

  const metrics = new Metrics();
  const replica = new Replica({
    log,
    machine,
    clock: options.clock,
    onApplied: (index) => {
      if (!snapshotting && index - snapshotIndex >= snapshotEvery) void takeSnapshot();
    },
  });
  const broker = new Broker({ proposer: replica, machine, log: replica });

  async function takeSnapshot(): Promise<void> {
    snapshotting = true;
    try {
      const index = machine.appliedIndex;
      await writeSnapshotFile(fs, snapshotsDir, snapshotName(index), machine.snapshot());
      snapshotIndex = index;
      await pruneSnapshots(fs, snapshotsDir, index);
      // Entries below both the snapshot and every live or rewindable message are garbage.
      const keepFrom = Math.min(index + 1, machine.lowestReferencedIndex());
      if (keepFrom > log.firstIndex) await log.deletePrefix(keepFrom);
    } finally {
      snapshotting = false;
    }
  }

  const tickTimer = setInterval(() => {
    if (machine.needsTick(replica.now())) {
      replica.propose(CommandType.Tick, encodeTick()).catch(() => {});
    }
  }, options.tickIntervalMs ?? 1000);

  const status: NodeStatus = {
    ready: () => true,
    cluster: (): ClusterInfo => ({
      nodeId: options.nodeId,
      role: "leader",
      term: 1,
      leaderId: options.nodeId,
      commitIndex: replica.appliedIndex,
      appliedIndex: replica.appliedIndex,
      nodes: [{
        id: options.nodeId,
        url: options.url ?? null,
        role: "leader",
        matchIndex: log.durableIndex,
        lag: 0,
      }],
    }),
    metricsText: () => nodeMetricsText(log, machine, options.clock.now()),
  };
  const app = createApp({ service: broker, status, metrics });

  return {
    app,
    broker,
    machine,
    replica,
    log,
    metrics,
    async close() {
      clearInterval(tickTimer);
      broker.close();
      await replica.close();
      if (machine.appliedIndex > snapshotIndex && !snapshotting) await takeSnapshot();
      await log.close();
    },
  };
}

function replay(log: SegmentLog, machine: StateMachine): void {
  for (let index = machine.appliedIndex + 1; index <= log.lastIndex; index++) {
    if (index < log.firstIndex) continue;
    machine.apply(log.entry(index));
  }
}

async function pruneSnapshots(fs: FileSystem, dir: string, keepIndex: number): Promise<void> {
  for (const name of await fs.readDir(dir)) {
    const match = snapshotPattern.exec(name);
    if (match && Number(match[1]) < keepIndex) await fs.remove(`${dir}/${name}`);
  }
}

/** Queues listed per scrape; past it the depth gauges are cut (bounded scrape cost). */
const metricsQueuesMax = 1000;

function nodeMetricsText(log: SegmentLog, machine: StateMachine, now: number): string {
  const stats = log.stats();
  const { queues } = machine.listQueues({ limit: metricsQueuesMax }, now);
  const depth = (name: string, help: string, pick: (queue: typeof queues[0]) => number) => [
    `# HELP ${name} ${help}`,
    `# TYPE ${name} gauge`,
    ...queues.map((queue) => `${name}{queue="${queue.name}"} ${pick(queue)}`),
  ];
  const lines = [
    "# HELP cmqd_log_bytes Bytes of the segment log on disk.",
    "# TYPE cmqd_log_bytes gauge",
    `cmqd_log_bytes ${stats.bytes}`,
    "# HELP cmqd_log_segments Segments of the log.",
    "# TYPE cmqd_log_segments gauge",
    `cmqd_log_segments ${stats.segments}`,
    "# HELP cmqd_fsyncs_total fdatasync calls of the log.",
    "# TYPE cmqd_fsyncs_total counter",
    `cmqd_fsyncs_total ${stats.fsyncs}`,
    "# HELP cmqd_fsync_seconds_total Time spent in fdatasync.",
    "# TYPE cmqd_fsync_seconds_total counter",
    `cmqd_fsync_seconds_total ${stats.fsyncMsTotal / 1000}`,
    "# HELP cmqd_applied_index Highest applied log index.",
    "# TYPE cmqd_applied_index gauge",
    `cmqd_applied_index ${machine.appliedIndex}`,
    "# HELP cmqd_state_machine_bytes Bytes held by the state machine's indexes.",
    "# TYPE cmqd_state_machine_bytes gauge",
    `cmqd_state_machine_bytes ${machine.memoryBytes()}`,
    "# HELP process_resident_memory_bytes Resident set size of the process.",
    "# TYPE process_resident_memory_bytes gauge",
    `process_resident_memory_bytes ${Deno.memoryUsage().rss}`,
    ...depth("cmqd_queue_active_messages", "Messages visible now.", (q) => q.activeMessages),
    ...depth(
      "cmqd_queue_inflight_messages",
      "Messages locked by a receive.",
      (q) => q.inflightMessages,
    ),
    ...depth("cmqd_queue_delayed_messages", "Messages not yet visible.", (q) => q.delayedMessages),
  ];
  return lines.join("\n") + "\n";
}
