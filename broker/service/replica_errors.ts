/**
 * How the service answers a replica's refusal: the `ReplicationError` a `Proposer` rejects with
 * becomes a `BrokerError`, so the doors only ever see one error type.
 *
 * @module
 */
import { BrokerError, type CommandResults } from "../engine/mod.ts";
import { type Proposer, ReplicationError } from "../replication/mod.ts";

/** Codes with which a replica refuses or abandons a proposal (not an apply result). */
export function isReplicaRefusal(code: string): boolean {
  return code === "NoLeader" || code === "NotReady" || code === "NodeRemoved";
}

/**
 * The broker's answer for a replica that refused or abandoned a proposal; other errors pass
 * through unchanged. Every caller of a replica outside the service (membership changes) uses it
 * too, so the doors only ever see `BrokerError`s.
 */
export function asBrokerError(error: unknown): unknown {
  return error instanceof ReplicationError ? fromReplication(error) : error;
}

/** The answers `asBrokerError` made of a replica's refusal. */
const replicaAnswers = new WeakSet<BrokerError>();

/**
 * True when `error` is the broker's answer to a replica's refusal ({@link asBrokerError}): its
 * words are the replica's (which node leads, why a write failed), for the node's log; a door that
 * speaks another protocol's words gives its own instead. False for the service's own refusals
 * of the same codes (a key past its share of parked receives), whose words are for the client.
 */
export function isReplicaAnswer(error: BrokerError): boolean {
  return replicaAnswers.has(error);
}

function fromReplication(error: ReplicationError): BrokerError {
  const code = error.code === "InvalidProposal" ? "InvalidParameter" : error.code;
  const answer = new BrokerError(code, error.message, {
    retryAfterSeconds: error.retryAfterSeconds,
    outcomeUnknown: error.outcomeUnknown,
  });
  replicaAnswers.add(answer);
  return answer;
}

/**
 * Waits for the replica's read barrier (a read then sees every write acknowledged before it),
 * answering its refusal as {@link asBrokerError} does a proposal's.
 */
export async function readBarrier(proposer: Proposer): Promise<void> {
  try {
    await proposer.readBarrier?.();
  } catch (error) {
    throw asBrokerError(error);
  }
}

/**
 * Proposes one command and answers its typed apply result. The one place results are typed:
 * the state machine answers `CommandResults[type]` or a `BrokerError` for each command type.
 * A replica's refusal (`ReplicationError`) becomes the `BrokerError` of the same code.
 */
export async function propose<T extends keyof CommandResults>(
  proposer: Proposer,
  type: T,
  payload: Uint8Array,
): Promise<CommandResults[T]> {
  let result: unknown;
  try {
    result = await proposer.propose(type, payload);
  } catch (error) {
    throw asBrokerError(error);
  }
  if (result instanceof BrokerError) throw result;
  return result as CommandResults[T];
}
