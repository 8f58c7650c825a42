/**
 * Checked decoding of the JSON-encoded admin and cluster commands whose fields the state machine
 * must validate before acting (Rewind, Redrive, SetMember), and the application of Redrive. A bad field is an `InvalidParameter` (Redrive,
 * proposed from a request) or a `MalformedRequest` value (SetMember, proposed by the cluster).
 *
 * @module
 */
import { BrokerError, invalidParameter } from "./errors.ts";
import { decodeJsonCommand, decodeJsonObject } from "./commands.ts";
import type { MemberAddress } from "./state_codec.ts";
import type { MessageSink, QueueState } from "./queue.ts";
import { type AppliedEntry, CommandType, type QueueAttributes } from "./types.ts";

/** Messages one Redrive command moves at most (and by default). */
export const redriveMessagesMax = 100_000;

/** A Redrive command: move up to `maxMessages` of `queue` to `destination` (or their origins). */
export interface RedriveCommand {
  queue: string;
  destination?: string;
  maxMessages: number;
  /**
   * The `createdAt` of the queue the caller means: a queue of the name created at another time
   * (deleted and created again since the caller read it) is refused, `QueueNotFound`.
   */
  ifCreatedAt?: number;
}

/** A Rewind command: exactly one of `timestamp` and `sequence`. */
export interface RewindCommand {
  queue: string;
  timestamp?: number;
  sequence?: number;
}

/** Decodes a Rewind payload; throws `InvalidParameter` for a bad field. */
export function decodeRewind(payload: Uint8Array): RewindCommand {
  const { queue, timestamp, sequence } = decodeJsonCommand(payload);
  const isCount = (value: unknown) =>
    typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
  if ((timestamp === undefined) === (sequence === undefined)) {
    throw invalidParameter("timestamp", "give exactly one of timestamp and sequence");
  }
  if (timestamp !== undefined && !isCount(timestamp)) {
    throw invalidParameter("timestamp", "must be a non-negative integer");
  }
  if (sequence !== undefined && !isCount(sequence)) {
    throw invalidParameter("sequence", "must be a non-negative integer");
  }
  return {
    queue,
    timestamp: timestamp as number | undefined,
    sequence: sequence as number | undefined,
  };
}

/** Decodes a Redrive payload; throws `InvalidParameter` for a bad field. */
export function decodeRedrive(payload: Uint8Array): RedriveCommand {
  const command = decodeJsonCommand(payload);
  const { destination, maxMessages, ifCreatedAt } = command;
  if (
    typeof maxMessages !== "number" || !Number.isInteger(maxMessages) || maxMessages < 1 ||
    maxMessages > redriveMessagesMax
  ) {
    throw invalidParameter("maxMessages", `must be between 1 and ${redriveMessagesMax}`);
  }
  if (destination !== undefined && typeof destination !== "string") {
    throw invalidParameter("destination", "must be a string");
  }
  if (
    ifCreatedAt !== undefined &&
    !(typeof ifCreatedAt === "number" && Number.isSafeInteger(ifCreatedAt) && ifCreatedAt >= 0)
  ) {
    throw invalidParameter("ifCreatedAt", "must be a non-negative integer");
  }
  return { queue: command.queue, destination, maxMessages, ifCreatedAt };
}

/** What a Redrive needs of the state machine, at the entry's time. */
export interface RedriveContext {
  /** The queue, released and marked touched; throws `QueueNotFound`. */
  queue(name: string): QueueState;
  /** The queue if it exists (nothing else). */
  find(name: string): QueueState | undefined;
  /** Moves into `target` (released first, marked touched). */
  sinkInto(target: QueueState): MessageSink;
  /** Runs the queue's housekeeping, in the newest form (as a TickKeepingLocks would). */
  housekeep(queue: QueueState): void;
}

/**
 * Applies a Redrive, RedriveOfCreated, RedriveInGroupOrder or RedriveAfterHousekeeping entry:
 * moves up to `maxMessages` visible messages to `destination`, or each to its origin (if it
 * exists and is of the same kind). Only the last two keep a FIFO group's order, and only the last
 * runs the queue's housekeeping first, once every check passed (`CommandType`). With
 * `ifCreatedAt`, a queue created at another time (this name deleted and created again since the
 * caller read it) moves nothing: `QueueNotFound`.
 */
export function applyRedrive(entry: AppliedEntry, context: RedriveContext): { moved: number } {
  const { destination, maxMessages, ifCreatedAt, ...command } = decodeRedrive(entry.payload);
  const queue = context.queue(command.queue);
  const fifo = queue.meta.attributes.fifo;
  let fixed: MessageSink | null = null;
  if (destination !== undefined) {
    const target = context.queue(destination);
    if (target === queue) throw invalidParameter("destination", "is the queue itself");
    if (target.meta.attributes.fifo !== fifo) {
      throw invalidParameter("destination", "must be fifo exactly when the queue is fifo");
    }
    fixed = context.sinkInto(target);
  }
  if (ifCreatedAt !== undefined && ifCreatedAt !== queue.meta.createdAt) {
    throw new BrokerError(
      "QueueNotFound",
      `queue '${queue.meta.name}' was deleted and created again since it was read`,
    );
  }
  if (entry.type === CommandType.RedriveAfterHousekeeping) context.housekeep(queue);
  const inGroupOrder = entry.type === CommandType.RedriveInGroupOrder ||
    entry.type === CommandType.RedriveAfterHousekeeping;
  const moved = queue.redrive(maxMessages, (origin) => {
    if (fixed !== null) return fixed;
    const target = origin === undefined ? undefined : context.find(origin);
    if (target === undefined || target === queue || target.meta.attributes.fifo !== fifo) {
      return null;
    }
    return context.sinkInto(target);
  }, inGroupOrder);
  return { moved };
}

/**
 * Applies a SetMember payload to `members`: records or forgets one member and says which (with
 * null for a forgotten one), or answers the error and changes nothing.
 */
export function applySetMember(
  members: Map<string, MemberAddress>,
  payload: Uint8Array,
): { id: string; member: MemberAddress | null } | BrokerError {
  const { id, peerAddress, clientUrl, remove } = decodeJsonObject(payload);
  if (typeof id !== "string" || id.length === 0) {
    return new BrokerError("MalformedRequest", "SetMember: id missing");
  }
  if (remove === true) {
    members.delete(id);
    return { id, member: null };
  }
  if (typeof peerAddress !== "string" || typeof clientUrl !== "string") {
    return new BrokerError("MalformedRequest", "SetMember: peerAddress and clientUrl expected");
  }
  const member = { id, peerAddress, clientUrl };
  members.set(id, member);
  return { id, member };
}

/**
 * Tells `tell` how the member records went from `before` to `after` (a snapshot loaded in
 * place): each one forgotten (null), then each one new or with other addresses.
 */
export function memberChanges(
  before: ReadonlyMap<string, MemberAddress>,
  after: ReadonlyMap<string, MemberAddress>,
  tell: (id: string, member: MemberAddress | null) => void,
): void {
  for (const id of before.keys()) if (!after.has(id)) tell(id, null);
  for (const [id, member] of after) {
    const old = before.get(id);
    if (old?.peerAddress !== member.peerAddress || old.clientUrl !== member.clientUrl) {
      tell(id, member);
    }
  }
}

/**
 * Checks the dead-letter policy of `attributes` for queue `name` among `queues`: not the queue
 * itself, an existing queue, fifo exactly when the queue is. Throws `InvalidParameter`.
 */
export function checkDeadLetter(
  queues: ReadonlyMap<string, QueueState>,
  name: string,
  attributes: QueueAttributes,
): void {
  const policy = attributes.deadLetter;
  if (!policy) return;
  const field = "deadLetter.queue";
  if (policy.queue === name) {
    throw invalidParameter(field, "a queue can't be its own dead-letter queue");
  }
  const target = queues.get(policy.queue);
  if (target === undefined) {
    throw invalidParameter(field, `queue '${policy.queue}' does not exist`);
  }
  if (target.meta.attributes.fifo !== attributes.fifo) {
    throw invalidParameter(field, "must be fifo exactly when the queue is fifo");
  }
}
