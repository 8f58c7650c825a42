/**
 * The receive path of the queue service (`EngineService.receiveMessages`): a receive's deletes
 * and lock written in one entry, and long polling. A receive that finds nothing parks (checked
 * locally first, so an empty receive costs no log write) until the state machine reports its
 * queue available, a lock or delay ends (`nextVisibleAt`), the wait runs out, the client aborts,
 * or the service's `close()`/`wakeAll()`.
 *
 * @module
 */
import {
  BrokerError,
  CommandType,
  encodeDeleteBatch,
  encodeReceiveBatch,
  type LogReader,
  receiptHandlesToBytes,
  type ReceiveResult,
  type StateMachine,
} from "../engine/mod.ts";
import type { Proposer } from "../replication/mod.ts";
import { propose } from "./replica_errors.ts";
import { checkReceive, fittingReceive } from "./validation.ts";
import type { AbortSource, ReceiveOptions } from "./types.ts";
import { type Claim, LongPolls, type PollState, type Wake } from "./long_polls.ts";
import { readMessages } from "./deliveries.ts";
import { unwrittenDeletes, wireFailures } from "./handle_failures.ts";
import type {
  QueueAttributes,
  ReceiveMessagesRequest,
  ReceiveMessagesResponse,
} from "../../sdk/protocol.ts";

/** How long a receive of `waitSeconds` 0 may stay parked while its deletes are written. */
const deleteWaitMsMax = 30_000;

/** The error of a queue that does not exist (or no longer does). */
export const queueNotFound = (name: string) =>
  new BrokerError("QueueNotFound", `queue '${name}' does not exist`);

/** What the receive path reads and writes through: the service's parts. */
export interface ReceiveParts {
  proposer: Proposer;
  machine: StateMachine;
  log: LogReader;
  polls: LongPolls;
  /** Whether the service was closed (receives no longer park). */
  closed: () => boolean;
  /** Sends proposed and not yet answered, by queue (see `#parksWhileDeleting`). */
  sendsInFlight: ReadonlyMap<string, number>;
}

/** The receives of one queue service (see the module's text). */
export class Receives {
  readonly #parts: ReceiveParts;

  constructor(parts: ReceiveParts) {
    this.#parts = parts;
  }

  /** Receives from `name`, whose attributes this node has applied (`attributes`). */
  async receive(
    name: string,
    attributes: QueueAttributes,
    request: ReceiveMessagesRequest,
    aborts?: AbortSource,
    options?: ReceiveOptions,
  ): Promise<ReceiveMessagesResponse> {
    const clean = checkReceive(request, attributes.maxMessageBytes);
    const waitMs = (clean.waitSeconds ?? attributes.pollingWaitSeconds) * 1000;
    const deadline = this.#parts.proposer.now() + waitMs;
    const state: PollState = {
      deadline,
      aborts,
      keyId: options?.keyId,
      round: this.#parts.polls.round,
      waits: waitMs > 0,
    };
    const response: ReceiveMessagesResponse = { messages: [] };
    let handles = clean.deleteReceiptHandles;
    const unwritten = handles && unwrittenDeletes(handles); // none, or all malformed
    if (unwritten) {
      [response.deleted, response.failures, handles] = [0, unwritten.failures, undefined];
    }
    if (handles !== undefined && this.#parksWhileDeleting(name, attributes.fifo, state.keyId)) {
      state.first = await this.#deleteWhileParked(name, clean, handles, state, response);
    } else if (handles !== undefined) {
      const result = await this.#proposeReceive(name, clean, handles);
      response.deleted = result.deleted ?? 0;
      response.failures = wireFailures(result.failures ?? [], handles);
      response.messages = readMessages(this.#parts.log, result.messages);
    }
    if (response.messages.length === 0) await this.#poll(name, clean, response, state);
    return response;
  }

  /**
   * Whether a receive carrying deletes writes them alone while it waits parked: only when the
   * queue has nothing to receive and no send to it is on its way (else one entry deletes and
   * locks at once), and not on a FIFO queue (a delete there may free the next of its group).
   */
  #parksWhileDeleting(name: string, fifo: boolean, keyId?: string): boolean {
    return !fifo && !this.#parts.closed() && this.#parts.polls.refusal(keyId) === null &&
      !this.#parts.sendsInFlight.has(name) &&
      !this.#parts.machine.hasReceivable(name, this.#parts.proposer.now());
  }

  /**
   * Writes a receive's deletes (a DeleteBatch) while the receive waits parked, and returns what
   * woke it. A send proposed meanwhile takes it along in its own entry (a SendReceive), so the
   * message costs that one write; otherwise the send is written alone and the client's next
   * receive writes a lock of its own (a second fsync plus a round trip on the latency path).
   * With no wait left once the deletes are written, it stops waiting then, unless a send took
   * it along already: a receive of `waitSeconds` 0 waits only for writes on their way.
   */
  async #deleteWhileParked(
    name: string,
    request: ReceiveMessagesRequest & { maxMessages: number },
    handles: string[],
    state: PollState,
    response: ReceiveMessagesResponse,
  ): Promise<Wake> {
    const stopped = new AbortController();
    const stop = () => stopped.abort();
    const signal = state.aborts?.signal;
    if (signal?.aborted) stop();
    // Removed however this ends, a failed write too: the request's signal outlives the receive.
    signal?.addEventListener("abort", stop);
    try {
      const now = this.#parts.proposer.now();
      const until = state.deadline > now ? state.deadline : now + deleteWaitMsMax;
      const parked = this.#parts.polls.park(name, request, until, stopped.signal, state);
      try {
        const payload = encodeDeleteBatch({ queue: name, handles: receiptHandlesToBytes(handles) });
        const result = await propose(this.#parts.proposer, CommandType.DeleteBatch, payload);
        response.deleted = result.deleted;
        response.failures = wireFailures(result.failures, handles);
      } catch (error) {
        stop();
        const wake = await parked;
        // A send that took it along may still lock messages for it: they come back when that
        // lock ends, as those of any answer that was lost.
        void (wake.ride ?? Promise.resolve()).catch(() => {}).finally(() => wake.claim?.release());
        throw error;
      } finally {
        if (this.#parts.proposer.now() >= state.deadline) stop();
      }
      return await parked;
    } finally {
      signal?.removeEventListener("abort", stop);
    }
  }

  /**
   * Receives until messages come, parking while the queue has none; a wake-up for messages holds
   * a claim (see long_polls.ts), released once the receive it woke for is answered. `first` is
   * the wake of a park made before (see `#deleteWhileParked`).
   */
  async #poll(
    name: string,
    request: ReceiveMessagesRequest & { maxMessages: number },
    response: ReceiveMessagesResponse,
    state: PollState,
  ): Promise<void> {
    const deadline = state.deadline;
    let signal = state.first && state.aborts?.signal; // read once it waited (see `AbortSource`)
    let first = state.first;
    let claim: Claim | undefined;
    /** Its receive came back empty: what was applied after it was offered to nobody it knew. */
    let missed = false;
    try {
      while (!signal?.aborted || first !== undefined) {
        if (first === undefined) {
          if (this.#parts.machine.hasReceivable(name, this.#parts.proposer.now())) {
            const result = await this.#proposeReceive(name, request, []);
            response.messages = readMessages(this.#parts.log, result.messages);
            if (response.messages.length > 0) return;
            missed = true;
          }
          claim?.release();
          claim = undefined;
          signal ??= state.aborts?.signal;
          if (this.#parts.closed() || this.#parts.proposer.now() >= deadline || signal?.aborted) {
            return;
          }
          if (this.#parts.machine.queueMeta(name) === undefined) throw queueNotFound(name);
          const full = this.#parts.polls.refusal(state.keyId);
          if (full !== null) {
            if (response.deleted !== undefined) return; // answer what the request already did
            throw new BrokerError("NotReady", `${full}; retry`, { retryAfterSeconds: 1 });
          }
        }
        // Parked ones answered while it was on its way (leadership moved): answer as they did.
        let wake = first ?? this.#parts.polls.missedSince(state.round);
        state.round = this.#parts.polls.round;
        if (wake === undefined) {
          const parked = this.#parts.polls.park(name, request, deadline, signal, state);
          // Parked now: offer what came while its receive was applied (those applies woke only
          // the receives parked then), as the release of a claim does.
          if (missed) this.#parts.polls.available(name);
          wake = await parked;
        }
        missed = false;
        first = undefined;
        claim = wake.claim;
        if (wake.gone) throw queueNotFound(name); // even if a queue of its name was created since
        const failure = wake.ride === undefined ? wake.failure : await this.#ride(wake, response);
        if (response.messages.length > 0) return;
        if (failure !== undefined) {
          // This node can no longer serve the receive (leadership moved): answer now with what
          // the request already did, or the error (503 naming the new leader), never at the
          // deadline.
          if (response.deleted !== undefined) return;
          throw failure;
        }
        // Woken by its deadline (or as late): it answers empty, and writes no lock once its wait
        // is over, for a client that may have given up then (long_polls.ts).
        const late = state.waits && this.#parts.proposer.now() >= deadline;
        if (late && wake.claim === undefined && wake.ride === undefined) return;
      }
    } finally {
      claim?.release();
    }
  }

  /** Takes the messages of a receive that rode a send; answers the failure if the send failed. */
  async #ride(wake: Wake, response: ReceiveMessagesResponse): Promise<Error | undefined> {
    try {
      response.messages = readMessages(this.#parts.log, (await wake.ride!).messages);
      return undefined;
    } catch (error) {
      return error as Error;
    }
  }

  #proposeReceive(
    name: string,
    request: ReceiveMessagesRequest & { maxMessages: number },
    handles: string[],
  ): Promise<ReceiveResult> {
    // Cut again to the queue as it is now: it may have been given larger messages since the
    // receive came (a long poll parks up to 30 s).
    const maxMessageBytes = this.#parts.machine.queueMeta(name)?.attributes.maxMessageBytes ?? 0;
    const payload = encodeReceiveBatch({
      queue: name,
      maxMessages: fittingReceive(request.maxMessages, maxMessageBytes),
      visibilityTimeoutSeconds: request.visibilityTimeoutSeconds ?? 0,
      deleteHandles: receiptHandlesToBytes(handles),
    });
    return propose(this.#parts.proposer, CommandType.ReceiveBatch, payload);
  }
}
