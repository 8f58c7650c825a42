/**
 * The contract between the HTTP doors and the engine. Every door (native v1, CMQ v2, later SQS)
 * translates its request into one of these calls and the result back; none has logic of its own.
 *
 * The implementation validates everything (ranges, names, sizes, state-dependent rules) and
 * throws `BrokerError` for expected failures, so a door may validate shape early for precise
 * messages but never has to.
 *
 * @module
 */
import type {
  ChangeVisibilityResponse,
  ClusterInfo,
  DeleteMessagesResponse,
  JoinRequest,
  Queue,
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
import type { ListQueuesOptions, TagChanges } from "../engine/mod.ts";

/** The result of a create: `created` is false when an identical queue already existed. */
/**
 * What holds the signal that ends a receive's wait when its client goes away: a `Request`, or a
 * door's context. The service reads `signal` only once a receive has to wait: the first read of
 * a served `Request`'s signal makes Deno build one, and abort it with a DOMException (stack
 * trace included) when the answer is sent, about 11 µs of the isolate's time per request.
 */
export interface AbortSource {
  readonly signal: AbortSignal;
}

/** Options of `QueueService.receiveMessages`. */
export interface ReceiveOptions {
  /**
   * The `secretId` of the access key the request came with (none without credentials): the long
   * polls of one key may hold at most a share of the receives a node parks (see
   * `EngineServiceOptions.parkedReceivesKeyShare`), so one key can't lock the others out.
   */
  keyId?: string;
}

export interface CreateQueueResult {
  queue: Queue;
  created: boolean;
}

/** Options of a list call. */
export type { ListQueuesOptions };
/** Tags to add or overwrite and keys to remove, in one step. */
export type { TagChanges };

/** Options of `QueueService.deleteMessages`. */
export interface DeleteOptions {
  /**
   * A handle that verifies but whose message is no longer in the queue (deleted, expired, moved
   * to a dead-letter queue, purged) counts as deleted instead of failing `ReceiptHandleStale`:
   * a retried delete whose first attempt was applied succeeds, as in SQS. A handle of an older
   * delivery of a message still in the queue fails either way. Default false (the native rule).
   */
  goneAsDeleted?: boolean;
}

/** Options of `QueueService.redrive`. */
export interface RedriveOptions {
  /**
   * Only the queue of the name created at this time (its `createdAt`): one deleted and created
   * again since (another queue, not the caller's) is `QueueNotFound` and nothing moves, checked
   * where the redrive is applied, so no re-creation can slip in between.
   */
  ifCreatedAt?: number;
}

/** Options of `QueueService.rewind`. */
export interface RewindOptions {
  /**
   * A timestamp before the queue's window rewinds from the window's start instead of being
   * refused (CMQ's RewindQueue: "the nearest rewindable time point"); one in the future is still
   * refused. Without it a timestamp before the window as the service sees it is refused, and one
   * at or after its start is applied from the window's start should the window move on before the
   * entry applies.
   */
  fromWindow?: boolean;
}

/** Options of a create. */
export interface CreateQueueOptions {
  /**
   * True when the caller's request has already waited for the replica's read barrier (it read
   * the queue its create is based on, with `getQueue`): an identical create of an existing queue
   * is then answered from the state applied since, which includes every write acknowledged
   * before the request, without waiting for a second barrier.
   */
  afterReadBarrier?: boolean;
}

/** The engine as the doors see it. All methods may throw `BrokerError`. */
export interface QueueService {
  createQueue(
    name: string,
    attributes: QueueAttributesInput,
    options?: CreateQueueOptions,
  ): Promise<CreateQueueResult>;
  listQueues(options: ListQueuesOptions): Promise<QueueList>;
  getQueue(name: string): Promise<Queue>;
  /**
   * Whether the queue is FIFO, from this node's state without a read barrier (a queue keeps its
   * kind for life), so a door can check its own notion of the kind on every message request.
   * Throws `QueueNotFound` when this node has not applied the queue, which a new leader may not
   * have yet: confirm that with `getQueue` (after the read barrier) before answering it.
   */
  queueIsFifo(name: string): boolean;
  updateQueue(name: string, attributes: QueueAttributesInput): Promise<Queue>;
  /**
   * Adds or overwrites (`set`) and removes (`remove`) some tags, applied to the tags the queue
   * has when the change commits: two concurrent changes never lose one another.
   */
  changeQueueTags(name: string, changes: TagChanges): Promise<Queue>;
  deleteQueue(name: string): Promise<void>;
  sendMessages(name: string, messages: SendMessageEntry[]): Promise<SendMessagesResponse>;
  /**
   * Long-polls up to `waitSeconds`; `aborts.signal` ends the wait when the client goes away.
   * Every door passes the caller's key as `options.keyId`.
   */
  receiveMessages(
    name: string,
    request: ReceiveMessagesRequest,
    aborts?: AbortSource,
    options?: ReceiveOptions,
  ): Promise<ReceiveMessagesResponse>;
  deleteMessages(
    name: string,
    receiptHandles: string[],
    options?: DeleteOptions,
  ): Promise<DeleteMessagesResponse>;
  changeVisibility(name: string, entries: VisibilityEntry[]): Promise<ChangeVisibilityResponse>;
  rewind(name: string, request: RewindRequest, options?: RewindOptions): Promise<RewindResponse>;
  purge(name: string): Promise<{ purged: number }>;
  redrive(
    name: string,
    request: RedriveRequest,
    options?: RedriveOptions,
  ): Promise<RedriveResponse>;
}

/** What the operations endpoints need from the node. */
export interface NodeStatus {
  /** True once recovery finished and the node can serve writes. */
  ready(): boolean;
  /** Why `ready()` is false (no leader known, a leader not heard from), or null. */
  notReadyReason?(): string | null;
  /**
   * Why the node stopped for good (a failed write or fsync; it is about to exit), or null.
   * `/healthz` and `/readyz` answer 503 with it rather than pretending to be alive.
   */
  failure?(): string | null;
  /**
   * Why this node is no longer a member of its cluster (it was removed), or null. `/readyz`
   * answers 503 `NodeRemoved` with it.
   */
  removal?(): string | null;
  cluster(): ClusterInfo;
  /** Prometheus text lines of the engine and storage (the HTTP layer adds its own). */
  metricsText(): string;
  /**
   * Base URL of the current leader, sent as the `x-cmqd-leader` hint on every response; null
   * or absent when unknown. Called once per request, so it should be a cached value.
   */
  leaderUrl?(): string | null;
  /** Adds a node (leader only): learner, catch-up, promote. Answers the new cluster view. */
  join?(request: JoinRequest): Promise<ClusterInfo>;
  /** Removes a node from the group (leader only). */
  removeNode?(id: string): Promise<void>;
}
