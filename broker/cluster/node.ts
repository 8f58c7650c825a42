/**
 * One cmqd node: opens the data directory, recovers the log and the newest snapshot into a Raft
 * replica, and builds the service and the HTTP app. A node without peers is a Raft group of one
 * voter — the same code path as a three-node cluster. `main.ts` wires the real clock, file system
 * and TCP transport; tests build nodes in-process with the same function.
 *
 * Data directory layout:
 * - `log/` — the segment log (the Raft log): `<20-digit base index>.log` segments + hard state.
 * - `snapshots/` — Raft snapshots (state machine + the log entries it still references); the
 *   newest valid one is loaded at start and the log is replayed from the entry after it.
 *
 * @module
 */
import { createPrng, type Message, type NodeId } from "../../raft/mod.ts";
import {
  type FileSystem,
  freeDiskBytes,
  readSnapshotFile,
  SegmentLog,
  trimAllocator,
} from "../../storage/mod.ts";
import { CommandType, encodeTick, refuseNewerSnapshot, StateMachine } from "../engine/mod.ts";
import {
  AccessGuard,
  type AccessGuardOptions,
  BodyBudget,
  createApp,
  Metrics,
} from "../http/mod.ts";
import {
  decodeSnapshotContainer,
  electionTimeoutMs,
  followerInlineSyncBytesMax,
  type PeerAddress,
  RaftReplica,
  refuseNewerSnapshots,
  removedMessage,
  ScrubLoop,
  snapshotFileName,
  syncSmallRoundsInlineWhileFollowing,
  type Timers,
  type Transport,
} from "../replication/mod.ts";
import { EngineService, EngineTopicService, type NodeStatus } from "../service/mod.ts";
import {
  type HttpClientLimits,
  type PushFetch,
  PushHttpClient,
  type PushLimits,
  PushWorker,
} from "../push/mod.ts";
import { createPushWorker, pushDestinations } from "./node_push.ts";
import { ClusterRequestDoor } from "./cluster_request_auth.ts";
import { clusterInfo } from "./cluster_info.ts";
import { DialHints } from "./dial_hints.ts";
import { DiskGuard } from "./disk_guard.ts";
import { type ConnectionInfo, forwardingHandler, type ForwardingOptions } from "./forwarding.ts";
import { ForwardProof } from "./forward_proof.ts";
import { LogLimiter } from "../transport/mod.ts";
import { handOff } from "./hand_off.ts";
import { memberRecordRemovals } from "./forced_records.ts";
import { type JoinPoint, joinVoteFloor, recordJoinPoint } from "./join_floor.ts";
import { Membership } from "./member_changes.ts";
import { PeerContact } from "./peer_contact.ts";
import { leaderSilenceMsMax, notReadyReason, type ReadinessParts } from "./readiness.ts";
import { MemberUrls } from "./member_urls.ts";
import { RaftMetrics } from "./raft_metrics.ts";
import { newerReleaseRefusal } from "./release_info.ts";
import { countDeadLetters, nodeMetricsText } from "./node_metrics.ts";
import { topicMetricsText } from "./topic_metrics.ts";
import { type ServedCertificate, watchCertificateExpiry } from "./tls_expiry.ts";

/** Options of `startNode`. */
export interface NodeOptions {
  nodeId: string;
  dataDir: string;
  fs: FileSystem;
  /** The wall clock (cluster time slews towards it). */
  clock: { now(): number };
  /** A monotonic clock (`performance.now()`); cluster time advances by it. Default: `clock`. */
  monotonic?: { now(): number };
  timers: Timers;
  /** The peer transport; `noPeers()` for a one-voter group. */
  transport: Transport;
  /** Initial voters (ids), used only on a brand-new data directory; [] = wait to be added. */
  initialVoters: string[];
  /**
   * Make this node the sole voter of its group before it starts: every other member is removed
   * from the membership and from the recorded member addresses, through the log
   * (`--force-new-cluster`, for the survivor of a majority lost for good).
   */
  forceNewCluster?: boolean;
  /**
   * The node joins a running group (`--join`): on an empty data directory it is not started
   * fresh (see `replication/lost_state.ts`); the join refuses it under a voter's id.
   */
  joining?: boolean;
  /** A joiner on an empty data directory: the group's term and commit (see `join_floor.ts`). */
  joinedAt?: JoinPoint;
  /** The cluster id (`cluster_id.ts`), shown in `/v1/cluster` (a joining node learns it there). */
  clusterId?: string;
  /** Base URL this node serves (announced to peers, shown in `/v1/cluster`). */
  url: string;
  /** Its peer address (`host:port`), recorded for it by a join while it leads. */
  peerAddress?: string;
  /** `--peers`, dialled once the log is open (not a member removed since: `Membership`). */
  peers?: PeerAddress[];
  /** Take a snapshot after this many applied entries (bounds replay time at restart). */
  snapshotEntriesInterval?: number;
  /** How often the leader checks whether housekeeping (expiry, dedup trimming) needs a Tick. */
  housekeepingIntervalMs?: number;
  /** Milliseconds per Raft tick (election timeout = 10–20 ticks). */
  tickMs?: number;
  segmentBytesMax?: number;
  mmap?: boolean;
  /** Seeds election timeouts. */
  seed?: number;
  /** How the push worker reaches URL subscriptions (default: a `PushHttpClient`). */
  pushFetch?: PushFetch;
  /** Bounds of the push worker (defaults: `pushLimitsDefault`). */
  pushLimits?: Partial<PushLimits>;
  /** Bounds of the push worker's HTTP client (defaults: `httpClientLimitsDefault`). */
  pushHttpLimits?: Partial<HttpClientLimits>;
  /** Networks pushes never connect to (`--push-deny-networks` entries). Default none. */
  pushDenyNetworks?: string[];
  /**
   * The address the HTTP API listener is bound to (`--host`; its port is `url`'s). Pushes to it
   * are refused (`PushDestinations`). Default: `url`'s host.
   */
  listenHost?: string;
  /** On close, how long writes already in the log may take to settle. 2000. */
  shutdownDrainMsMax?: number;
  /** On close, how long a leader waits for another voter to take over. 3000. */
  handOffMsMax?: number;
  /** The bound on requests held across a freeze (started by the caller); none by default. */
  held?: ForwardingOptions["held"];
  /**
   * Bytes per second the background scrub reads of the sealed segments the open trusted by their
   * persisted index (`ScrubLoop`); damage found ends in `onFatal`. 0 = off. 32 MiB/s.
   */
  scrubBytesPerSecond?: number;
  /** Sends are refused (507) while fewer bytes are free on the data dir (`DiskGuard`). 0 = off. */
  minFreeDiskBytes?: number;
  /** Reads free bytes of a path (`freeDiskBytes`, the default, needs FFI). */
  freeDiskBytes?: (path: string) => number;
  /**
   * The certificates its listeners serve (`--tls-cert`): their end is a `/metrics` gauge, and a
   * daily check warns in `report` while one expires within 14 days (`tls_expiry.ts`). None.
   */
  servedCertificates?: readonly ServedCertificate[];
  /** Queues whose per-queue series (depths, dead-lettered) `/metrics` lists, the first by name; 0 = none. 1000. */
  metricsQueueSeries?: number;
  /** Topics, and subscriptions over them, whose series `/metrics` lists, the first; 0 = none. 1000. */
  metricsTopicSeries?: number;
  /** Queues the group may hold (429 `QueueLimitExceeded` past it). 10 000. */
  queuesMax?: number;
  /** Topics the group may hold (429 `TopicLimitExceeded` past it). 10 000. */
  topicsMax?: number;
  /** Long polls parked at once on this node (503 past it). 10 000. */
  parkedReceivesMax?: number;
  /**
   * Where the node reports what it does on its own (its opening, a hand-off done, the scrub's
   * progress). console.log.
   */
  report?: (message: string) => void;
  /**
   * Where the node warns of what asks its operator to act: a certificate near its end, a disk
   * alarm and its clearing, free space it can't read, a leadership hand-off that failed,
   * `--force-new-cluster`'s lines, the replica's words of an SQS 503, an SQS message move task
   * its loss of leadership failed. console.error, with the start's warnings. (Damage the scrub
   * found is a fatal error: `onFatal`'s handler reports it, once.)
   */
  warn?: (message: string) => void;
  /**
   * The cluster key, when this node is a cluster member: joins signed with it are served
   * (`cluster_request_auth.ts`).
   */
  clusterKey?: Uint8Array;
  /**
   * How this node reaches other members' client URLs when it forwards a request to the leader
   * (default: the global `fetch`). `main.ts` gives one that trusts `--tls-ca`, so forwarding to
   * an `https://` leader verifies its certificate against the cluster's CA.
   */
  memberFetch?: typeof fetch;
  /**
   * Who may call the HTTP doors (the credentials' key ring, protected mode); enforced on the
   * node that receives a request and again on the leader it is forwarded to. Default: anyone.
   */
  access?: AccessGuardOptions;
  /**
   * Bytes of request bodies the node reads at once (`BodyBudget`), unless `access` brings its
   * own budget; default `defaultBodyBudgetBytes` (256 MiB).
   */
  requestBodyBudgetBytes?: number;
}

/** A running node (without the HTTP listener, which the caller owns). */
export interface CmqdNode {
  app: ReturnType<typeof createApp>;
  /**
   * The handler to serve: forwards to the leader when this node is a follower. Pass the
   * connection info `Deno.serve` gives (protected mode needs the client's address).
   */
  handler: (request: Request, info?: ConnectionInfo) => Promise<Response>;
  broker: EngineService;
  topics: EngineTopicService;
  /** Delivers HTTP pushes while this node leads. */
  push: PushWorker;
  machine: StateMachine;
  replica: RaftReplica;
  log: SegmentLog;
  metrics: Metrics;
  /**
   * When leading a group with other voters: hands leadership to the most caught-up one and
   * waits (bounded) until it leads. Resolves with its id, or null when nothing was handed over.
   */
  handOffLeadership(): Promise<string | null>;
  /** Calls `handler` once if storage fails: the node then refuses everything; end the process. */
  onFatal(handler: (error: Error) => void): void;
  /**
   * Stop SQS move tasks, hand off leadership (unless `handOff` is false: the caller just tried,
   * as the graceful stop does, and a second try would wait its bound again when no voter can
   * take it), stop writes, answer parked receives, close log.
   */
  close(options?: { handOff?: boolean }): Promise<void>;
}

/** Bytes of a request body a follower buffers to forward (the API's own 4 MiB + slack). */
const forwardBytesMax = 4 * 1024 * 1024 + 256 * 1024;

/**
 * Opens (recovering) and starts a node.
 *
 * @example
 * ```ts
 * const node = await startNode({ nodeId: "n1", dataDir: "./data", fs: new RealFileSystem(),
 *   clock: { now: () => Date.now() }, timers: realTimers, transport: noPeers(),
 *   initialVoters: ["n1"], url: "http://127.0.0.1:9876" });
 * Deno.serve({ port: 9876 }, node.handler);
 * ```
 */
export async function startNode(options: NodeOptions): Promise<CmqdNode> {
  const { fs, dataDir } = options;
  const report = options.report ?? ((message: string) => console.log(message));
  const warn = options.warn ?? ((message: string) => console.error(message));
  const monotonic = options.monotonic ?? options.clock;
  const openedAt = monotonic.now();
  // A newer release's snapshot is refused before the log is opened (which checks its own files):
  // nothing changes (README, "Upgrading").
  refuseNewerSnapshots(fs, `${dataDir}/snapshots`, refuseNewerSnapshot);
  if (options.joinedAt !== undefined) await recordJoinPoint(fs, dataDir, options.joinedAt);
  const log = await SegmentLog.open(`${dataDir}/log`, {
    fs,
    segmentBytesMax: options.segmentBytesMax,
    mmap: options.mmap,
  });
  const logOpenedAt = monotonic.now();
  const machine = new StateMachine();
  const peers = new PeerContact(options.transport, monotonic);
  const voteFloor = await joinVoteFloor(fs, dataDir, { log, nodeId: options.nodeId });
  const hints = new DialHints(); // members past the commit on disk: `Membership` dials them
  const replica = await RaftReplica.open({
    onUnapplied: hints.read,
    onApplied: hints.applied,
    onSnapshotInstalled: hints.snapshotLoaded,
    raft: { voteFloor },
    nodeId: options.nodeId,
    log,
    machine,
    transport: peers,
    clock: options.clock,
    monotonic: options.monotonic,
    timers: options.timers,
    prng: createPrng(options.seed ?? hashSeed(options.nodeId, options.clock.now())),
    fs,
    snapshotsDir: `${dataDir}/snapshots`,
    initialVoters: options.initialVoters,
    joining: options.joining,
    forceNewCluster: options.forceNewCluster === true
      ? {
        recordRemovals: (removed) => memberRecordRemovals(machine, options.nodeId, removed),
        // Each of its lines asks the operator to act (start without the flag from now on).
        report: (message) => warn(`cmqd ${options.nodeId}: ${message}`),
      }
      : undefined,
    tickMs: options.tickMs,
    snapshotEntriesInterval: options.snapshotEntriesInterval,
    // An entry a newer release wrote stops the node (main.ts says why and exits): no stack.
    expectedStop: newerReleaseRefusal,
  });
  report(`cmqd ${options.nodeId}: ${openingReport(log, { openedAt, logOpenedAt, monotonic })}`);
  const silenceMsMax = leaderSilenceMsMax(electionTimeoutMs({ tickMs: options.tickMs }));
  const raftMetrics = new RaftMetrics({
    replica,
    peers,
    disk: () => diskGuard,
    leaderSilenceMsMax: silenceMsMax,
  });
  const voters: string[] = replica.status().config.voters;
  if (voters.length === 1 && voters[0] === options.nodeId) {
    // A one-voter group has nobody to wait for: elect itself now rather than after a timeout.
    replica.campaign();
  }
  const metrics = new Metrics();
  // After the replay at open: a restart counts from 0, not the replayed moves again.
  const deadLetters = countDeadLetters(machine);
  const certificates = watchCertificateExpiry({
    certificates: options.servedCertificates ?? [],
    metrics,
    clock: options.clock,
    timers: options.timers,
    report: (message) => warn(`cmqd ${options.nodeId}: ${message}`),
  });
  const diskGuard = new DiskGuard({
    path: dataDir,
    minFreeBytes: options.minFreeDiskBytes ?? 0,
    freeBytes: options.freeDiskBytes ?? freeDiskBytes,
    timers: options.timers,
    report: (message) => warn(`cmqd ${options.nodeId}: ${message}`),
  });
  // A create limit counts what a new leader has not applied yet (create_limit.ts).
  const unappliedEntries = () => Math.max(0, replica.status().lastIndex - machine.appliedIndex);
  const broker = new EngineService({
    proposer: replica,
    machine,
    log: replica,
    unappliedEntries,
    timers: options.timers,
    queuesMax: options.queuesMax,
    parkedReceivesMax: options.parkedReceivesMax,
    admitData: () => diskGuard.refusal(),
  });
  const topics = new EngineTopicService({
    proposer: replica,
    machine,
    log: replica,
    unappliedEntries,
    topicsMax: options.topicsMax,
    admitData: () => diskGuard.refusal(),
  });
  const pushClient = new PushHttpClient(
    options.pushHttpLimits,
    pushDestinations(options, () => memberUrls()),
  );
  const push = createPushWorker(options, {
    topics,
    metrics,
    fetch: pushClient.fetch,
    clock: { now: () => replica.now() },
  });
  syncSmallRoundsInlineWhileFollowing(replica, log, followerInlineSyncBytesMax);
  /** Set by `close()`: a node elected while its replica drains starts no push worker. */
  let stopped = false;
  // Parked long polls are answered at once when leadership moves: on a leader they re-check,
  // elsewhere they get a retryable 503 naming the new leader. Pushes run on the leader only: a
  // node that stops leading also closes its idle push connections (it has no use for them).
  replica.onRoleChange((change) => {
    const refusal = replica.refusal();
    if (change.role !== "leader" && refusal !== null) broker.failParked(refusal);
    else broker.wakeAll();
    if (change.role === "leader") {
      if (!stopped) push.start();
    } else {
      push.stop();
      pushClient.close();
    }
  });
  // A one-voter group elected itself above, before the handler was installed.
  if (replica.isLeader) push.start();

  const housekeepingMs = options.housekeepingIntervalMs ?? 1000;
  let rounds = 0;
  let trimming: Promise<unknown> | null = null;
  const housekeep = () => {
    if (stopped) return;
    if (replica.isLeader && machine.needsTick(replica.now())) {
      replica.propose(CommandType.TickKeepingLocks, encodeTick()).catch(() => {});
    }
    // Freed array buffers (a replay, bursts of requests) stay in the C heap's high-water mark
    // unless it is trimmed; the RSS should follow what is live.
    if (rounds++ % 5 === 0 && trimming === null) {
      trimming = trimAllocator().finally(() => (trimming = null));
    }
    housekeepingTimer = options.timers.setTimer(housekeepingMs, housekeep);
  };
  let housekeepingTimer = options.timers.setTimer(housekeepingMs, housekeep);

  const bootstrap = {
    bootstrapVoters: readBootstrapVoters(fs, `${dataDir}/snapshots`),
    clusterId: options.clusterId,
  };
  // Followers forward requests (and the SDK follows x-cmqd-leader) to this URL: what the member
  // announced, proved with the cluster key, before its record (`member_urls.ts`).
  const urls = new MemberUrls({
    nodeId: options.nodeId,
    url: options.url,
    recorded: (id) => membership.clientUrl(id),
    announced: (id) => options.transport.clientUrl(id as NodeId),
    warn,
  });
  const clientUrlOf = (id: string): string | null => urls.of(id);
  const membership = new Membership({
    nodeId: options.nodeId,
    url: options.url,
    peerAddress: options.peerAddress,
    peers: { list: options.peers ?? [], bootstrapVoters: bootstrap.bootstrapVoters },
    replica,
    machine,
    transport: options.transport,
    alone: lonelyTransports.has(options.transport),
    hints,
    clusterInfo: () => ({ ...clusterInfo(replica.status(), clientUrlOf), ...bootstrap }),
    monotonic,
    timers: options.timers,
  });
  // The push client (made above) calls this on each push and connection: after a read barrier,
  // so never before this line has run (nothing in between awaits).
  // Members change only through applied entries: read them once per applied index, not per push
  // (`status()` copies the configuration and the progress map).
  const memberUrls = (): string[] =>
    urls.ofMembers(replica.appliedIndex, () => {
      const { voters, learners } = replica.status().config;
      return [...voters, ...learners];
    });
  const leaderUrl = (): string | null => {
    const leaderId = replica.leaderId;
    return leaderId === null ? null : clientUrlOf(leaderId);
  };
  const fatalHandlers: Array<(error: Error) => void> = [];
  replica.onFailure((error) => {
    for (const handler of fatalHandlers) handler(error);
  });
  let scrubDamage: Error | null = null;
  const scrub = new ScrubLoop({
    scrubber: log.scrubber(),
    timers: options.timers,
    monotonic,
    bytesPerSecond: options.scrubBytesPerSecond ?? 32 * 1024 * 1024,
    report: (message) => report(`cmqd ${options.nodeId}: ${message}`),
    onDamage: (error) => {
      scrubDamage = error;
      for (const handler of fatalHandlers) handler(error);
    },
  });
  scrub.start();
  const readiness: ReadinessParts = {
    replica,
    failure: () => replica.failure?.message ?? scrubDamage?.message ?? null,
    heardMsAgo: (id) => peers.heardMsAgo(id),
    silenceMsMax,
  };
  const status: NodeStatus = {
    ready: () => notReadyReason(readiness) === null,
    notReadyReason: () => notReadyReason(readiness),
    failure: () => replica.failure?.message ?? scrubDamage?.message ?? null,
    removal: () => replica.removal === null ? null : removedMessage(replica.removal),
    cluster: () => ({ ...clusterInfo(replica.status(), clientUrlOf), ...bootstrap }),
    metricsText: () =>
      nodeMetricsText(
        log,
        machine,
        replica.now(),
        broker.parkedReceivers,
        deadLetters,
        options.metricsQueueSeries,
      ) + raftMetrics.text() +
      topicMetricsText(machine.topics, push.stats(), replica.now(), options.metricsTopicSeries),
    leaderUrl,
    join: (request) => membership.join(request),
    removeNode: (id) => membership.remove(id),
  };
  const access = new AccessGuard({
    keyRing: null,
    loopbackOnly: false,
    ...options.access,
    bodies: options.access?.bodies ?? new BodyBudget({ bytesMax: options.requestBodyBudgetBytes }),
  });
  // What the doors log per request (an SQS 503's replica detail, a move task failed) are
  // failures of the server's: warnings. Bounded: an election can refuse thousands a second.
  const doorLines = new LogLimiter((line) => warn(`cmqd ${options.nodeId}: ${line}`), {
    what: "door reports",
  });
  const doorReport = (message: string) => doorLines.line(message);
  // The SQS move tasks pace their batches on the node's monotonic clock and timers.
  const doors = { access, report: doorReport, time: { clock: monotonic, timers: options.timers } };
  const app = createApp({ service: broker, topics, status, metrics, ...doors });
  // Joins signed with the cluster key are answered before the app and its client credentials
  // (a joining node holds the cluster key, not an access key).
  const clusterDoor = options.clusterKey === undefined ? null : new ClusterRequestDoor(
    options.clusterKey,
    { cluster: () => status.cluster(), join: (request) => membership.join(request) },
    { bodies: access.bodies },
  );
  const handler = forwardingHandler({
    view: {
      isLeader: () => replica.isLeader,
      leaderUrl,
      onLeaderChange: (listener) => replica.onRoleChange(listener),
      removed: () => status.removal!(),
    },
    local: (request, info) =>
      clusterDoor === null
        ? app.fetch(request, info)
        : clusterDoor.handle(request, async (passed) => await app.fetch(passed, info)),
    admit: (request, info) =>
      clusterDoor !== null && ClusterRequestDoor.claims(request)
        ? clusterDoor.admitForwarding(request)
        : access.admitForwarding(request, info, forwardBytesMax),
    requestBytesMax: forwardBytesMax,
    bodies: access.bodies,
    proof: options.clusterKey === undefined
      ? undefined
      : new ForwardProof(options.clusterKey, options.nodeId),
    fetch: options.memberFetch,
    metrics,
    held: options.held,
  });

  const handOffLeadership = () =>
    handOff(replica, {
      timers: options.timers,
      msMax: options.handOffMsMax ?? 3000,
      report,
      warn,
    });
  return {
    app,
    handler,
    broker,
    topics,
    push,
    machine,
    replica,
    log,
    metrics,
    handOffLeadership,
    onFatal: (handler) => void fatalHandlers.push(handler),
    async close(closing = {}) {
      const tasksStopped = app.close(); // SQS move tasks: no new batch; one in flight settles
      if (closing.handOff !== false) await handOffLeadership();
      stopped = true;
      options.timers.clearTimer(housekeepingTimer);
      await trimming;
      scrub.stop();
      push.stop();
      pushClient.close();
      diskGuard.stop();
      certificates.stop();
      broker.close();
      await replica.close({ drainMsMax: options.shutdownDrainMsMax ?? 2000 });
      await tasksStopped; // settled: the replica answers every proposal when it closes
      await options.transport.close();
      access.bodies.close();
      await log.close();
    },
  };
}

/** One line on what opening took: the log (indexes trusted, bytes scanned), then the replica. */
function openingReport(
  log: SegmentLog,
  times: { openedAt: number; logOpenedAt: number; monotonic: { now(): number } },
): string {
  const { indexedSegments = 0, scannedSegments = 0, scannedBytes = 0 } = log.recovery;
  const logMs = Math.round(times.logOpenedAt - times.openedAt);
  const replicaMs = Math.round(times.monotonic.now() - times.logOpenedAt);
  return `opened the log in ${logMs} ms (${indexedSegments} segments from their index, ` +
    `${scannedSegments} scanned: ${Math.round(scannedBytes / 1024 / 1024)} MiB), the snapshot ` +
    `and the replay in ${replicaMs} ms`;
}

/** The transports `noPeers()` made: a node on one runs alone and refuses joins. */
const lonelyTransports = new WeakSet<Transport>();

/** A transport for a one-voter group: there is nobody to talk to (a join is refused). */
export function noPeers(): Transport {
  const transport: Transport = {
    send(_messages: Message[]) {},
    onMessage() {},
    onUnreachable() {},
    setPeer(_peer: PeerAddress) {},
    removePeer() {},
    clientUrl: () => null,
    close: () => Promise.resolve(),
  };
  lonelyTransports.add(transport);
  return transport;
}

/** The index-0 membership this node's group started from (see `recovery.ts`). */
function readBootstrapVoters(fs: FileSystem, snapshotsDir: string): string[] | undefined {
  const bytes = readSnapshotFile(fs, snapshotsDir, snapshotFileName(0));
  return bytes === null ? undefined : decodeSnapshotContainer(bytes).config.voters.map(String);
}

function hashSeed(text: string, salt: number): number {
  let hash = salt >>> 0;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x9e3779b1);
  return hash >>> 0;
}
