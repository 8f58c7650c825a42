/**
 * The checks of the queues a write names besides its own, on the local state before anything is
 * proposed (the entry checks them again when it applies): a dead-letter policy's target and a
 * redrive's destination.
 *
 * @module
 */
import { invalidParameter, type StateMachine } from "../engine/mod.ts";
import type { QueueAttributes } from "../../sdk/protocol.ts";
import { checkName } from "./validation.ts";
import { missing } from "./missing_checks.ts";

/** Refuses a policy of `attributes` whose target is the queue itself, missing or of another kind. */
export function checkDeadLetter(
  machine: StateMachine,
  name: string,
  attributes: QueueAttributes,
): void {
  const policy = attributes.deadLetter;
  if (!policy) return;
  checkName(policy.queue, "deadLetter.queue");
  if (policy.queue === name) {
    throw invalidParameter("deadLetter.queue", "a queue can't be its own dead-letter queue");
  }
  const target = machine.queueMeta(policy.queue)?.attributes;
  if (target === undefined) {
    // Marked missing: a new leader checks again after its read barrier (missing_checks.ts).
    throw missing(
      invalidParameter("deadLetter.queue", `queue '${policy.queue}' does not exist`),
    );
  }
  if (target.fifo !== attributes.fifo) {
    throw invalidParameter("deadLetter.queue", "must be fifo exactly when the queue is fifo");
  }
}

/**
 * Refuses a redrive's `destination` as the entry would: it must exist (else `notFound`), be
 * another queue, and be FIFO exactly when `attributes` are.
 */
export function checkRedriveDestination(
  machine: StateMachine,
  name: string,
  attributes: QueueAttributes,
  destination: string | undefined,
  notFound: (name: string) => Error,
): void {
  if (destination === undefined) return;
  const target = machine.queueMeta(destination)?.attributes;
  if (target === undefined) throw notFound(destination);
  if (destination === name) throw invalidParameter("destination", "is the queue itself");
  if (target.fifo !== attributes.fifo) {
    throw invalidParameter("destination", "must be fifo exactly when the queue is fifo");
  }
}
