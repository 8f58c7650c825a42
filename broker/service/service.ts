/**
 * The engine as the HTTP doors see it (`QueueService`): validate a request, encode a command,
 * propose it through the replica, map the apply result to the API response, and read message
 * bodies back from the log. Reads (get, list) answer from the local state machine after the read
 * barrier; a write whose check finds a queue missing checks again after it (missing_checks.ts).
 * Receives and long polling: `receives.ts`.
 *
 * @module
 */
import {
  BrokerError,
  type CommandResults,
  CommandType,
  encodeChangeVisibility,
  encodeCreateQueue,
  encodeDeleteBatch,
  encodeQueueCommand,
  encodeRedrive,
  encodeRewind,
  encodeSendBatch,
  encodeUpdateQueue,
  type LogReader,
  malformedHandleFailures,
  receiptHandlesToBytes,
  redriveMessagesMax,
  resolveCreate,
  resolveUpdate,
  type StateMachine,
  type TagChanges,
} from "../engine/mod.ts";
import type { Proposer } from "../replication/mod.ts";
import type { EngineServiceOptions } from "./service_options.ts";
import { asBrokerError, propose, readBarrier } from "./replica_errors.ts";
import { heldRefusal } from "./held_requests.ts";
import { sendReceive } from "./send_receive.ts";
import {
  checkHandles,
  checkList,
  checkName,
  checkRedrive,
  checkRewind,
  checkRewindWindow,
  checkSendEntries,
  checkVisibilityEntries,
} from "./validation.ts";
import type {
  AbortSource,
  CreateQueueOptions,
  CreateQueueResult,
  DeleteOptions,
  ListQueuesOptions,
  QueueService,
  ReceiveOptions,
  RedriveOptions,
  RewindOptions,
} from "./types.ts";
import { LongPolls } from "./long_polls.ts";
import { receivableAtOnce } from "./deliveries.ts";
import { deleteAnswer, wireFailures } from "./handle_failures.ts";
import { queueNotFound, Receives } from "./receives.ts";
import { checkQueueInput, checkTagChangesInput } from "./reserved_keys.ts";
import { CreateLimit } from "./create_limit.ts";
import {
  createUnlessSame,
  type QueueReads,
  succeeds,
  tagUnlessSame,
  unlessEmpty,
  updateUnlessSame,
} from "./unwritten_writes.ts";
import { checkDeadLetter, checkRedriveDestination } from "./target_checks.ts";
import { checkThen, recheck } from "./missing_checks.ts";
import type {
  ChangeVisibilityResponse,
  DeleteMessagesResponse,
  Queue,
  QueueAttributes,
  QueueAttributesInput,
  QueueList,
  ReceiveMessagesRequest,
  ReceiveMessagesResponse,
  RedriveRequest,
  RedriveResponse,
  RewindRequest,
  RewindResponse,
  SendMessageEntry,
  SendMessagesResponse,
  VisibilityEntry,
} from "../../sdk/protocol.ts";

/**
 * The queue service over one replication group.
 *
 * @example
 * ```ts
 * const clock = new ManualClock();
 * const replica = new MemoryReplica({ clock, machine: new StateMachine() });
 * const service = new EngineService({
 *   proposer: replica, machine: replica.machine, log: replica, timers: clock });
 * await service.createQueue("jobs", {});
 * await service.sendMessages("jobs", [{ body: "resize photo 7" }]);
 * ```
 */
export class EngineService implements QueueService {
  readonly #proposer: Proposer;
  readonly #machine: StateMachine;
  readonly #log: LogReader;
  readonly #randomSalt: () => number;
  readonly #polls: LongPolls;
  readonly #receives: Receives;
  readonly #queueLimit: CreateLimit;
  readonly #admitData: () => BrokerError | null;
  readonly #reads: QueueReads; // for the writes that change nothing (unwritten_writes.ts)
  /** Sends proposed and not yet answered, by queue (see `Receives`, receives.ts). */
  readonly #sendsInFlight = new Map<string, number>();
  #closed = false;

  constructor(options: EngineServiceOptions) {
    this.#proposer = options.proposer;
    this.#machine = options.machine;
    this.#log = options.log;
    this.#randomSalt = options.randomSalt ??
      (() => crypto.getRandomValues(new Uint32Array(1))[0]);
    this.#polls = new LongPolls({
      timers: options.timers,
      now: () => this.#proposer.now(),
      nextVisibleAt: (queue) => this.#machine.nextVisibleAt(queue),
      receivableCount: (queue, now, limit) => this.#machine.receivableCount(queue, now, limit),
      parkedMax: options.parkedReceivesMax ?? 10_000,
      keyShare: options.parkedReceivesKeyShare ?? 0.8,
    });
    this.#machine.onAvailable = (queue) => this.#polls.available(queue);
    this.#machine.onTouched = (queue) => {
      if (this.#machine.queueMeta(queue) !== undefined) this.#polls.touched(queue);
      else this.#polls.wakeQueue(queue); // deleted by this apply, however it was proposed
    };
    this.#queueLimit = new CreateLimit({
      max: options.queuesMax ?? 10_000,
      count: () => this.#machine.queueCount,
      exists: (name) => this.#machine.queueMeta(name) !== undefined,
      kind: "queues",
      unapplied: options.unappliedEntries,
      confirm: () => readBarrier(this.#proposer),
    });
    this.#admitData = options.admitData ?? (() => null);
    this.#reads = { proposer: this.#proposer, machine: this.#machine };
    this.#receives = new Receives({
      proposer: this.#proposer,
      machine: this.#machine,
      log: this.#log,
      polls: this.#polls,
      closed: () => this.#closed,
      sendsInFlight: this.#sendsInFlight,
    });
  }

  /** Receivers parked in long polls. */
  get parkedReceivers(): number {
    return this.#polls.size;
  }

  /** One command's typed apply result (`replica_errors.ts`). */
  #propose<T extends keyof CommandResults>(type: T, payload: Uint8Array) {
    return propose(this.#proposer, type, payload);
  }

  /** The queue's attributes as this node has applied them; undefined when it has not (yet). */
  #local(name: string): QueueAttributes | undefined {
    checkName(name);
    return this.#machine.queueMeta(name)?.attributes;
  }

  #attributes(name: string): QueueAttributes {
    const attributes = this.#local(name);
    if (attributes === undefined) throw queueNotFound(name);
    return attributes;
  }

  /** The attributes of a queue this node has not applied, after the read barrier (or 404). */
  #confirmed(name: string): Promise<QueueAttributes> {
    return recheck(this.#proposer, () => this.#attributes(name)); // missing_checks.ts
  }

  #view(name: string): Queue {
    const queue = this.#machine.getQueue(name, this.#proposer.now());
    if (queue === undefined) throw queueNotFound(name);
    return queue;
  }

  async createQueue(
    name: string,
    input: QueueAttributesInput,
    options: CreateQueueOptions = {},
  ): Promise<CreateQueueResult> {
    checkName(name);
    const attributes = resolveCreate(checkQueueInput(input));
    // An identical create of an existing queue writes no entry (unwritten_writes.ts).
    const check = () => {
      if (!this.#machine.queueMeta(name)) checkDeadLetter(this.#machine, name, attributes);
    };
    const write = async () => {
      const salt = this.#randomSalt() >>> 0;
      const payload = encodeCreateQueue({ queue: name, attributes, salt });
      const propose = () => this.#propose(CommandType.CreateQueue, payload);
      const result = await this.#queueLimit.run(name, propose);
      return { queue: result.queue, created: result.created };
    };
    const create = () => checkThen(this.#proposer, check, write);
    const barrierPassed = options.afterReadBarrier === true;
    return await createUnlessSame(this.#reads, name, attributes, create, barrierPassed);
  }

  async listQueues(options: ListQueuesOptions): Promise<QueueList> {
    const clean = checkList(options ?? {});
    await readBarrier(this.#proposer);
    return this.#machine.listQueues(clean, this.#proposer.now());
  }

  async getQueue(name: string): Promise<Queue> {
    checkName(name);
    await readBarrier(this.#proposer);
    return this.#view(name);
  }

  queueIsFifo(name: string): boolean {
    return this.#attributes(name).fifo;
  }

  async updateQueue(name: string, input: QueueAttributesInput): Promise<Queue> {
    const check = () => {
      const current = this.#attributes(name);
      const clean = checkQueueInput(input);
      const attributes = resolveUpdate(current, clean);
      if (clean.deadLetter) checkDeadLetter(this.#machine, name, attributes); // a policy set now
      return clean;
    };
    return await checkThen(
      this.#proposer,
      check,
      (clean) =>
        updateUnlessSame(this.#reads, name, clean, async () => {
          const payload = encodeUpdateQueue({ queue: name, attributes: clean });
          return (await this.#propose(CommandType.UpdateQueueBarringDeleted, payload)).queue;
        }),
    );
  }

  async changeQueueTags(name: string, changes: TagChanges): Promise<Queue> {
    const check = () => {
      const current = this.#attributes(name);
      const clean = checkTagChangesInput(changes ?? {}) ?? {};
      // Checked against the tags of now for an early answer; the state machine applies the
      // change to the tags of the moment it applies, and checks the count again there.
      resolveUpdate(current, {}, clean);
      return clean;
    };
    return await checkThen(
      this.#proposer,
      check,
      (clean) =>
        tagUnlessSame(this.#reads, name, clean, async () => {
          const payload = encodeUpdateQueue({ queue: name, attributes: {}, tagChanges: clean });
          return (await this.#propose(CommandType.UpdateQueueKeepingPolicy, payload)).queue;
        }),
    );
  }

  async deleteQueue(name: string): Promise<void> {
    const payload = encodeQueueCommand({ queue: name });
    const write = () => this.#propose(CommandType.DeleteQueue, payload);
    await checkThen(this.#proposer, () => this.#attributes(name), write);
  }

  async sendMessages(name: string, messages: SendMessageEntry[]): Promise<SendMessagesResponse> {
    const attributes = this.#local(name) ?? await this.#confirmed(name);
    const clean = checkSendEntries(messages, attributes.maxMessageBytes);
    // A send held across a freeze of this node is refused, nothing proposed (held_requests.ts).
    const refusal = this.#admitData() ?? heldRefusal();
    if (refusal !== null) throw refusal;
    const holds = (group: string) => this.#machine.fifoGroupHolds(name, group);
    const riders = this.#polls.takeRiders(name, receivableAtOnce(clean, attributes.fifo, holds));
    this.#sendsInFlight.set(name, (this.#sendsInFlight.get(name) ?? 0) + 1);
    try {
      if (riders.length > 0) {
        const bytes = attributes.maxMessageBytes;
        return await sendReceive(this.#proposer, name, clean, riders, bytes);
      }
      const payload = encodeSendBatch({ queue: name, messages: clean });
      const result = await this.#propose(CommandType.SendBatch, payload);
      return { messages: result.messages };
    } finally {
      const left = this.#sendsInFlight.get(name)! - 1;
      if (left === 0) this.#sendsInFlight.delete(name);
      else this.#sendsInFlight.set(name, left);
    }
  }

  async receiveMessages(
    name: string,
    request: ReceiveMessagesRequest,
    aborts?: AbortSource,
    options?: ReceiveOptions,
  ): Promise<ReceiveMessagesResponse> {
    const attributes = this.#local(name) ?? await this.#confirmed(name);
    return await this.#receives.receive(name, attributes, request, aborts, options);
  }

  /** Wakes every parked receiver (each re-checks its queue once); ends a `failParked`. */
  wakeAll(): void {
    this.#polls.wakeAll();
  }

  /**
   * Answers every parked receiver with `failure` now (the node lost leadership: they get a
   * retryable 503 naming the new leader instead of waiting out their deadline), and every receive
   * that would park from now until `wakeAll` (the node leads again).
   */
  failParked(failure: Error): void {
    this.#polls.failAll(asBrokerError(failure) as Error); // a replica's refusal: its 503, not 500
  }

  /** Stops parking: parked receivers answer at once with what they have (usually nothing). */
  close(): void {
    this.#closed = true;
    this.wakeAll();
  }

  async deleteMessages(
    name: string,
    receiptHandles: string[],
    options?: DeleteOptions,
  ): Promise<DeleteMessagesResponse> {
    if (this.#local(name) === undefined) await this.#confirmed(name);
    const handles = checkHandles(receiptHandles, "receiptHandles");
    const bytes = receiptHandlesToBytes(handles);
    const malformed = malformedHandleFailures(bytes, this.#machine.queueMeta(name)); // no entry
    if (malformed !== null) return { deleted: 0, failures: wireFailures(malformed, handles) };
    const payload = encodeDeleteBatch({ queue: name, handles: bytes });
    return deleteAnswer(await this.#propose(CommandType.DeleteBatch, payload), handles, options);
  }

  async changeVisibility(
    name: string,
    entries: VisibilityEntry[],
  ): Promise<ChangeVisibilityResponse> {
    if (this.#local(name) === undefined) await this.#confirmed(name);
    const clean = checkVisibilityEntries(entries);
    const handles = clean.map((entry) => entry.receiptHandle);
    const bytes = receiptHandlesToBytes(handles);
    const malformed = malformedHandleFailures(bytes, this.#machine.queueMeta(name)); // no entry
    if (malformed !== null) return { entries: [], failures: wireFailures(malformed, handles) };
    const payload = encodeChangeVisibility({
      queue: name,
      entries: clean.map((entry, index) => ({
        handle: bytes[index],
        visibilityTimeoutSeconds: entry.visibilityTimeoutSeconds,
      })),
    });
    const result = await this.#propose(CommandType.ChangeVisibility, payload);
    return {
      entries: result.entries.map((entry) => ({
        receiptHandle: handles[entry.index],
        visibleAt: entry.visibleAt,
      })),
      failures: wireFailures(result.failures, handles),
    };
  }

  async rewind(
    name: string,
    request: RewindRequest,
    options: RewindOptions = {},
  ): Promise<RewindResponse> {
    const check = () => {
      const { rewindSeconds } = this.#attributes(name);
      const target = checkRewind(request);
      checkRewindWindow(name, rewindSeconds, target, this.#proposer.now(), options.fromWindow);
      return target;
    };
    // A timestamp in the form that starts from the window where it moved on past it by the apply
    // (a sequence means the same in both forms: the earlier one).
    const type = (target: { timestamp?: number }) =>
      target.timestamp === undefined ? CommandType.Rewind : CommandType.RewindFromWindow;
    return await checkThen(
      this.#proposer,
      check,
      (target) => this.#propose(type(target), encodeRewind({ queue: name, ...target })),
    );
  }

  async purge(name: string): Promise<{ purged: number }> {
    const payload = encodeQueueCommand({ queue: name });
    const write = () => this.#propose(CommandType.Purge, payload);
    const purge = () => unlessEmpty(this.#reads, name, { purged: 0 }, write);
    return await checkThen(this.#proposer, () => this.#attributes(name), purge);
  }

  async redrive(
    name: string,
    request: RedriveRequest,
    options: RedriveOptions = {},
  ): Promise<RedriveResponse> {
    const checkDestination = (now: QueueAttributes, destination?: string) =>
      checkRedriveDestination(this.#machine, name, now, destination, queueNotFound);
    const check = () => {
      const attributes = this.#attributes(name);
      const clean = checkRedrive(request, redriveMessagesMax);
      checkDestination(attributes, clean.destination);
      return clean;
    };
    return await checkThen(this.#proposer, check, (clean) => {
      const same = (now: QueueAttributes, queue: Queue) =>
        (options.ifCreatedAt ?? queue.createdAt) === queue.createdAt &&
        succeeds(() => checkDestination(now, clean.destination));
      const payload = encodeRedrive({ queue: name, ...clean, ifCreatedAt: options.ifCreatedAt });
      const write = () => this.#propose(CommandType.RedriveAfterHousekeeping, payload);
      return unlessEmpty(this.#reads, name, { moved: 0 }, write, same);
    });
  }
}
