/**
 * The deterministic state machine of the queue engine: `apply(entry)` depends only on the state
 * and the entry (its timestamp is "now"), so every replica that applies the same log holds the
 * same queues. Expected failures (a queue that vanished, a backlog that is full) are returned
 * as `BrokerError` values, never thrown, and change nothing.
 *
 * Housekeeping (retention, the dead-letter TTL, trimming) runs for every queue, in creation
 * order, at each Tick entry, and for one queue before each receive on it. The replica proposes
 * a Tick every second while `needsTick(now)` is true. Topics (`topics.ts`, `topic_publish.ts`)
 * are delegated to a `TopicStore`; a publish enqueues its queue copies through `#fanOut`. Queue
 * creates and updates are applied by `queue_writes.ts`.
 *
 * @module
 */
import { BrokerError, invalidParameter } from "./errors.ts";
import { messageLimits } from "./limits.ts";
import {
  type AppliedEntry,
  CommandType,
  commandTypes,
  engineCommandTypeMin,
  type ListQueuesOptions,
} from "./types.ts";
import { DecodeError } from "./binary.ts";
import {
  decodeChangeVisibility,
  decodeDeleteBatch,
  decodeJsonCommand,
  decodeReceiveBatch,
  decodeSendHeaders,
  decodeSendReceive,
  type ReceiveSpec,
} from "./commands.ts";
import {
  type DeadLetterTarget,
  type Delivery,
  type HandleFailure,
  type HousekeepingForm,
  type MessageSink,
  QueueState,
} from "./queue.ts";
import { receiveLockSeconds } from "./queue_attributes.ts";
import {
  type MemberAddress,
  readSnapshot,
  type SnapshotParts,
  writeSnapshot,
} from "./state_codec.ts";
import { type TopicQueries, TopicStore } from "./topics.ts";
import { applyPublish, applyPushResults } from "./topic_publish.ts";
import { applyRedrive, applySetMember, decodeRewind, memberChanges } from "./admin_commands.ts";
import { applyCreateQueue, applyUpdateQueue } from "./queue_writes.ts";
import { QueueTable } from "./queue_table.ts";
import { type DepthTotals, depthTotalsOf } from "./track_counts.ts";
import { newerEntryError, NewerLayoutError } from "./release.ts";
import type {
  DeleteResult,
  ReceiveResult,
  SendReceiveResult,
  SendResult,
  VisibilityResult,
} from "./command_results.ts";
import type { Queue, QueueList, RewindResponse } from "../../sdk/protocol.ts";

export type {
  CommandResults,
  CreateResult,
  DeleteResult,
  ReceiveResult,
  SendReceiveResult,
  SendResult,
  UpdateResult,
  VisibilityResult,
} from "./command_results.ts";

export { redriveMessagesMax } from "./admin_commands.ts";

/** The housekeeping of the newest entry forms (TickKeepingLocks, `HousekeepingForm`). */
const newestForm: HousekeepingForm = { inGroupOrder: true, keepsLocks: true };

/**
 * All queues of one replication group.
 *
 * @example
 * ```ts
 * const machine = new StateMachine();
 * machine.apply({ index: 1, timestamp: Date.now(), type: CommandType.CreateQueue,
 *   payload: encodeCreateQueue({ queue: "jobs", attributes: resolveCreate({}), salt: 1 }) });
 * machine.getQueue("jobs", Date.now());
 * ```
 */
export class StateMachine {
  #queues = new QueueTable<QueueState>();
  #appliedIndex = 0;
  #lastTimestamp = 0;
  #touched = new Set<string>();
  #members = new Map<string, MemberAddress>();
  #topics = new TopicStore();
  /** Called when a member's address was recorded (`address`) or forgotten (`null`). */
  onMember?: (id: string, address: MemberAddress | null) => void;
  /** Called after an apply that may have made messages receivable (long-poll wake-ups). */
  onAvailable?: (queue: string) => void;
  /** Called after each apply for every queue it touched (locks, delays may be new) or deleted. */
  onTouched?: (queue: string) => void;

  /**
   * Called for each message moved to its dead-letter queue (too many receives, or the policy's
   * TTL), with the queue it left. Not replicated state: a snapshot holds no such count.
   */
  onDeadLettered?: (queue: string) => void;
  /** Called when a DeleteQueue is applied, with the queue's name. */
  onQueueDeleted?: (queue: string) => void;
  /** Called after a publish added pending HTTP pushes (wakes the leader's push worker). */
  onPushPending?: () => void;
  readonly #commandTypes: ReadonlySet<number>;

  /**
   * `commandTypes`: the types applied (default: every `CommandType`); any other stops the node
   * (`release.ts`). A subset stands in for an earlier release in tests.
   */
  constructor(options: { commandTypes?: ReadonlySet<number> } = {}) {
    this.#commandTypes = options.commandTypes ?? commandTypes;
  }

  /** The topics, read-only (views, and what the push worker needs). */
  get topics(): TopicQueries {
    return this.#topics;
  }

  /** Index of the last applied entry. */
  get appliedIndex(): number {
    return this.#appliedIndex;
  }

  /**
   * The state's "now": the latest time stamp of the applied entries, Raft's own included (0
   * before any).
   */
  get lastTimestamp(): number {
    return this.#lastTimestamp;
  }

  /**
   * Applies one committed entry; returns its result (an `BrokerError` value for failures).
   * Throws `NewerReleaseError`, changing nothing, for an entry a newer release wrote (`release.ts`).
   */
  apply(entry: AppliedEntry): unknown {
    if (entry.index <= this.#appliedIndex) {
      throw new Error(`entry ${entry.index} already applied (at ${this.#appliedIndex})`);
    }
    const engine = entry.type >= engineCommandTypeMin;
    if (engine && !this.#commandTypes.has(entry.type)) throw newerEntryError(entry);
    const before = { applied: this.#appliedIndex, timestamp: this.#lastTimestamp };
    this.#appliedIndex = entry.index;
    // Raft's own entries move the state's time too: a snapshot taken at one (the configuration
    // entries of --force-new-cluster, stamped by the wall clock) stands for that entry's time.
    // Every replica applies the same stamps, and the log's never go back, so an engine entry's
    // "now" is its own stamp as before, and an image taken before this counted them still holds.
    const now = Math.max(this.#lastTimestamp, entry.timestamp);
    this.#lastTimestamp = now;
    if (!engine) return undefined;
    this.#touched.clear();
    let result: unknown;
    try {
      result = this.#dispatch(entry, now);
    } catch (error) {
      if (error instanceof DecodeError) {
        result = new BrokerError("MalformedRequest", `command ${entry.type}: ${error.message}`);
      } else if (error instanceof BrokerError) {
        result = error;
      } else if (error instanceof NewerLayoutError) {
        // Decoders read the layout version first: nothing else has changed yet.
        [this.#appliedIndex, this.#lastTimestamp] = [before.applied, before.timestamp];
        throw newerEntryError(entry, error.version);
      } else {
        throw error;
      }
    }
    this.#notify(now);
    return result;
  }

  #notify(now: number): void {
    for (const name of this.#touched) {
      this.onTouched?.(name);
      if (this.onAvailable && this.#queues.get(name)?.hasReceivable(now)) this.onAvailable(name);
    }
  }

  #dispatch(entry: AppliedEntry, now: number): unknown {
    switch (entry.type) {
      case CommandType.CreateQueue:
        return applyCreateQueue(this.#queues, entry, now);
      case CommandType.UpdateQueue:
      case CommandType.UpdateQueueKeepingPolicy:
      case CommandType.UpdateQueueWithRewindFloor:
      case CommandType.UpdateQueueBarringDeleted:
        return applyUpdateQueue(this.#queues, entry, now, (name) => this.#queue(name, now));
      case CommandType.DeleteQueue:
        return this.#delete(entry);
      case CommandType.SendBatch:
        return this.#send(entry, now);
      case CommandType.ReceiveBatch:
        return this.#receive(entry, now);
      case CommandType.SendReceive:
        return this.#sendReceive(entry, now);
      case CommandType.DeleteBatch:
        return this.#deleteMessages(entry, now);
      case CommandType.ChangeVisibility:
        return this.#changeVisibility(entry, now);
      case CommandType.Rewind:
      case CommandType.RewindFromWindow:
        return this.#rewind(entry, now);
      case CommandType.Purge:
        return this.#purge(entry, now);
      case CommandType.Redrive:
      case CommandType.RedriveOfCreated:
      case CommandType.RedriveInGroupOrder:
      case CommandType.RedriveAfterHousekeeping:
        return applyRedrive(entry, {
          queue: (name) => this.#queue(name, now),
          find: (name) => this.#queues.get(name),
          sinkInto: (target) => this.#sinkInto(target, now),
          housekeep: (queue) => queue.maintain(now, this.#deadLetter(queue, now), newestForm),
        });
      case CommandType.Tick:
      case CommandType.TickInGroupOrder:
      case CommandType.TickKeepingLocks:
        return this.#tick(now, {
          inGroupOrder: entry.type !== CommandType.Tick,
          keepsLocks: entry.type === CommandType.TickKeepingLocks,
        });
      case CommandType.SetMember:
        return this.#setMember(entry);
      default:
        return this.#dispatchTopic(entry, now);
    }
  }

  #dispatchTopic(entry: AppliedEntry, now: number): unknown {
    const topics = this.#topics;
    switch (entry.type) {
      case CommandType.CreateTopic:
        return topics.create(entry, now);
      case CommandType.UpdateTopic:
        return topics.update(entry, now);
      case CommandType.DeleteTopic:
        return topics.delete(entry);
      case CommandType.PublishBatch: {
        const result = applyPublish(topics, entry, { now, sink: this.#fanOut(entry, now) });
        if (result.pushesAdded > 0) this.onPushPending?.();
        return result;
      }
      case CommandType.Subscribe:
        return topics.subscribe(entry, now, (queue) => this.#queues.has(queue));
      case CommandType.UpdateSubscription:
        return topics.updateSubscription(entry, now);
      case CommandType.Unsubscribe:
        return topics.unsubscribe(entry);
      case CommandType.PushResults:
        return applyPushResults(topics, entry, now);
      default: // apply refused the types it does not know
        throw new Error(`command type ${entry.type} has no handler`);
    }
  }

  /** Where a publish puts its queue copies: the message stays in this entry, at its slot. */
  #fanOut(entry: AppliedEntry, now: number) {
    return (name: string, message: { slot: number; bodyBytes: number }) => {
      const queue = this.#queues.get(name);
      if (queue === undefined) {
        return new BrokerError("QueueNotFound", `queue '${name}' does not exist`);
      }
      queue.release(now);
      this.#touched.add(name);
      return queue.admitPublished({ entryIndex: entry.index, now, ...message });
    };
  }

  /** The queue, released to `now` and marked touched; throws QueueNotFound. */
  #queue(name: string, now: number): QueueState {
    const queue = this.#queues.get(name);
    if (queue === undefined) {
      throw new BrokerError("QueueNotFound", `queue '${name}' does not exist`);
    }
    queue.release(now);
    this.#touched.add(name);
    return queue;
  }

  /** Moves into `target`; a dead-letter move reports the queue it left (`deadLetterOf`). */
  #sinkInto(target: QueueState, now: number, deadLetterOf?: string): MessageSink {
    return (message) => {
      target.release(now);
      target.admit(message, now);
      this.#touched.add(target.meta.name);
      if (deadLetterOf !== undefined) this.onDeadLettered?.(deadLetterOf);
    };
  }

  /** The dead-letter target of `queue` if its policy is active (the DLQ exists, same kind). */
  #deadLetter(queue: QueueState, now: number): DeadLetterTarget | undefined {
    const policy = queue.meta.attributes.deadLetter;
    if (!policy) return undefined;
    const target = this.#queues.get(policy.queue);
    if (target === undefined || target === queue) return undefined;
    if (target.meta.attributes.fifo !== queue.meta.attributes.fifo) return undefined;
    return {
      sink: this.#sinkInto(target, now, queue.meta.name),
      maxReceiveCount: policy.maxReceiveCount,
      maxTimeToLiveSeconds: policy.maxTimeToLiveSeconds,
    };
  }

  #delete(entry: AppliedEntry): { deleted: true } {
    const command = decodeJsonCommand(entry.payload);
    if (!this.#queues.delete(command.queue)) {
      throw new BrokerError("QueueNotFound", `queue '${command.queue}' does not exist`);
    }
    this.#touched.add(command.queue);
    this.onQueueDeleted?.(command.queue);
    return { deleted: true };
  }

  #send(entry: AppliedEntry, now: number): SendResult | BrokerError {
    const command = decodeSendHeaders(entry.payload);
    if (command.messages.length === 0) throw invalidParameter("messages", "must not be empty");
    const queue = this.#queue(command.queue, now);
    const result = queue.send({ entryIndex: entry.index, now, messages: command.messages });
    return result instanceof BrokerError ? result : { messages: result };
  }

  /**
   * Sends, then runs receives on the same queue in the same entry, exactly as a ReceiveBatch
   * applied right after would. A refused send (or receive) refuses the whole entry: nothing
   * changes.
   */
  #sendReceive(entry: AppliedEntry, now: number): SendReceiveResult | BrokerError {
    const command = decodeSendReceive(entry.payload);
    const [sending, receiving] = [command.messages.length, command.receives.length];
    if (sending === 0 || receiving === 0 || receiving > sending) {
      throw invalidParameter("receives", "at least 1 message and 1 to messages.length receives");
    }
    const queue = this.#queue(command.queue, now);
    const seconds = command.receives.map((spec) => receiveLockSeconds(spec, queue.meta.attributes));
    const sent = queue.send({ entryIndex: entry.index, now, messages: command.messages });
    if (sent instanceof BrokerError) return sent;
    const at = { entryIndex: entry.index, now, form: command };
    const receives = command.receives.map((spec, index) => ({
      messages: this.#take(queue, at, spec, seconds[index]),
    }));
    return { messages: sent, receives };
  }

  #receive(entry: AppliedEntry, now: number): ReceiveResult {
    const command = decodeReceiveBatch(entry.payload);
    const queue = this.#queue(command.queue, now);
    const seconds = receiveLockSeconds(command, queue.meta.attributes);
    const result: ReceiveResult = { messages: [] };
    if (command.deleteHandles.length > 0) {
      Object.assign(result, this.#deleteHandles(queue, command.deleteHandles));
    }
    const at = { entryIndex: entry.index, now, form: command };
    result.messages = this.#take(queue, at, command, seconds);
    return result;
  }

  /**
   * Housekeeping of the queue, then up to `maxMessages` deliveries under a lock (the newer layouts:
   * no more than one answer holds, `boundsAnswer`).
   */
  #take(
    queue: QueueState,
    at: { entryIndex: number; now: number; form: HousekeepingForm & { boundsAnswer: boolean } },
    spec: ReceiveSpec,
    seconds: number,
  ): Delivery[] {
    const deadLetter = this.#deadLetter(queue, at.now);
    queue.maintain(at.now, deadLetter, at.form);
    return queue.receive({
      now: at.now,
      entryIndex: at.entryIndex,
      maxMessages: spec.maxMessages,
      visibilityMs: seconds * 1000,
      deadLetter,
      answerBytesMax: at.form.boundsAnswer ? messageLimits.receiveBodyBytesMax : Infinity,
    });
  }

  #deleteHandles(queue: QueueState, handles: Uint8Array[]): DeleteResult {
    const failures: HandleFailure[] = [];
    handles.forEach((handle, index) => {
      const failure = queue.deleteHandle(handle, index);
      if (failure !== null) failures.push(failure);
    });
    return { deleted: handles.length - failures.length, failures };
  }

  #deleteMessages(entry: AppliedEntry, now: number): DeleteResult {
    const command = decodeDeleteBatch(entry.payload);
    return this.#deleteHandles(this.#queue(command.queue, now), command.handles);
  }

  #changeVisibility(entry: AppliedEntry, now: number): VisibilityResult {
    const command = decodeChangeVisibility(entry.payload);
    const queue = this.#queue(command.queue, now);
    command.entries.forEach((item, index) => {
      if (item.visibilityTimeoutSeconds > messageLimits.visibilityTimeoutSeconds.max) {
        throw invalidParameter(`entries.${index}.visibilityTimeoutSeconds`, "out of range");
      }
    });
    const result: VisibilityResult = { entries: [], failures: [] };
    command.entries.forEach((item, index) => {
      const outcome = queue.changeVisibility({
        bytes: item.handle,
        index,
        seconds: item.visibilityTimeoutSeconds,
        now,
      });
      if (typeof outcome === "number") result.entries.push({ index, visibleAt: outcome });
      else result.failures.push(outcome);
    });
    return result;
  }

  #rewind(entry: AppliedEntry, now: number): RewindResponse | BrokerError {
    const { queue, timestamp, sequence } = decodeRewind(entry.payload);
    const fromWindow = entry.type === CommandType.RewindFromWindow;
    return this.#queue(queue, now).rewind(now, { timestamp, sequence }, fromWindow);
  }

  #purge(entry: AppliedEntry, now: number): { purged: number } {
    const command = decodeJsonCommand(entry.payload);
    return { purged: this.#queue(command.queue, now).purge() };
  }

  #setMember(entry: AppliedEntry): undefined | BrokerError {
    const change = applySetMember(this.#members, entry.payload);
    if (change instanceof BrokerError) return change;
    this.onMember?.(change.id, change.member);
    return undefined;
  }

  /** Cluster members' recorded addresses. */
  members(): MemberAddress[] {
    return [...this.#members.values()];
  }

  #tick(now: number, form: HousekeepingForm): undefined {
    const queues = [...this.#queues.values()].sort((left, right) =>
      left.meta.incarnation - right.meta.incarnation
    );
    for (const queue of queues) {
      queue.maintain(now, this.#deadLetter(queue, now), form);
      this.#touched.add(queue.meta.name);
    }
    this.#topics.expire(now);
    return undefined;
  }

  /** The API view of a queue at `now`, or undefined. */
  getQueue(name: string, now: number): Queue | undefined {
    return this.#queues.get(name)?.view(now);
  }

  /** How many queues exist. */
  get queueCount(): number {
    return this.#queues.size;
  }

  /**
   * A queue's meta as applied, or undefined: its attributes (for validation), incarnation and
   * salt (what its receipt handles are checked against: `handle_precheck.ts`).
   */
  queueMeta(name: string): QueueState["meta"] | undefined {
    return this.#queues.get(name)?.meta;
  }

  /**
   * The depths of all queues together at `now`: the sums of their views' counts, read from the
   * counts each queue keeps, no view built (/metrics reports them past its per-queue series).
   */
  depthTotals(now: number): DepthTotals {
    return depthTotalsOf(this.#queues.values(), now);
  }

  /** Queues sorted by name (kept sorted as they come and go), filtered by prefix, paged. */
  listQueues(options: ListQueuesOptions & { limit: number }, now: number): QueueList {
    const { prefix = "", offset = 0, limit, after } = options;
    const page = this.#queues.page(prefix, offset, limit, after);
    return {
      total: page.total,
      queues: page.names.map((name) => this.#queues.get(name)!.view(now)),
    };
  }

  /** True when a receive on `name` at `now` may find a message. */
  hasReceivable(name: string, now: number): boolean {
    return this.#queues.get(name)?.hasReceivable(now) ?? false;
  }

  /** About how many messages a receive on `name` at `now` could take (see QueueState). */
  receivableCount(name: string, now: number, limit: number): number {
    return this.#queues.get(name)?.receivableCount(now, limit) ?? 0;
  }

  /**
   * True while FIFO queue `name`'s group `group` (`""`: the queue-wide one) holds a message, so
   * a message sent to it queues behind (false for a standard queue, or one that doesn't exist).
   */
  fifoGroupHolds(name: string, group: string): boolean {
    return this.#queues.get(name)?.holdsGroup(group) ?? false;
  }

  /** When a lock or delay of `name` ends next (maybe earlier), or null. */
  nextVisibleAt(name: string): number | null {
    return this.#queues.get(name)?.nextVisibleAt() ?? null;
  }

  /** True when a Tick at `now` would have housekeeping to do. */
  needsTick(now: number): boolean {
    for (const queue of this.#queues.values()) {
      if (queue.dueAt(this.#deadLetter(queue, now) !== undefined) <= now) return true;
    }
    return this.#topics.needsExpiry(now);
  }

  /** When each queue's housekeeping is next due, as `needsTick(now)` finds it (for checks). */
  queueDueTimes(now: number): Array<[string, number]> {
    return [...this.#queues].map(([name, q]) => [name, q.dueAt(!!this.#deadLetter(q, now))]);
  }

  /** Log entries below this index hold no live or rewindable message. */
  lowestReferencedIndex(): number {
    let lowest = this.#appliedIndex + 1;
    for (const queue of this.#queues.values()) lowest = Math.min(lowest, queue.minLogIndex());
    return Math.min(lowest, this.#topics.minLogIndex());
  }

  /** Bytes of RAM the queues' structures hold (typed arrays exact, maps estimated). */
  memoryBytes(): number {
    let bytes = 0;
    for (const queue of this.#queues.values()) bytes += queue.memoryBytes();
    return bytes + this.#topics.memoryBytes();
  }

  /** A compact binary snapshot, including `appliedIndex`. */
  snapshot(): Uint8Array {
    return writeSnapshot({
      appliedIndex: this.#appliedIndex,
      lastTimestamp: this.#lastTimestamp,
      queues: [...this.#queues.values()],
      members: [...this.#members.values()],
      topics: this.#topics,
    });
  }

  /**
   * Replaces the state by the one `bytes` was taken of, in place: whoever holds a reference (the
   * `EngineService`, its `onAvailable` hook) keeps working on it. For a follower's snapshots.
   */
  loadSnapshot(bytes: Uint8Array): void {
    const before = this.#members;
    this.#load(readSnapshot(bytes));
    // A follower that catches up by a snapshot learns the members' addresses from it (forgets
    // those it no longer records), as it would from their entries.
    if (this.onMember !== undefined) memberChanges(before, this.#members, this.onMember);
  }

  /** The applied index of the state `bytes` hold; throws as `loadSnapshot` would, loads nothing. */
  checkSnapshot = (bytes: Uint8Array): number => readSnapshot(bytes).appliedIndex;

  #load(parts: SnapshotParts): void {
    this.#appliedIndex = parts.appliedIndex;
    this.#lastTimestamp = parts.lastTimestamp;
    this.#queues = new QueueTable();
    this.#touched.clear();
    for (const queue of parts.queues) this.#queues.set(queue.meta.name, queue);
    this.#members = new Map(parts.members.map((member) => [member.id, member]));
    this.#topics = parts.topics;
  }

  /** A machine equal to the one `bytes` was taken of. */
  static restore(bytes: Uint8Array): StateMachine {
    return StateMachine.fromParts(readSnapshot(bytes));
  }

  /** A machine made of snapshot parts. */
  static fromParts(parts: SnapshotParts): StateMachine {
    const machine = new StateMachine();
    machine.#load(parts);
    return machine;
  }
}
