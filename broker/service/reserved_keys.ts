/**
 * The one key no map of user keys may hold: `__proto__`, as a message attribute (sends,
 * publishes) or a queue tag (creates, updates, tag changes). The service refuses it with
 * `400 InvalidParameter` naming it (`messages.0.attributes.__proto__`, `tags.__proto__`) before
 * anything is proposed, so every door that reaches the service answers alike; the v1 door's zod
 * schemas refuse it the same way first (zod's record would drop it without a word).
 *
 * Why refuse rather than keep it: the engine would keep it (it builds maps with `fromEntries`
 * and Deno has no `__proto__` setter), but outside Deno an assignment `map["__proto__"] = v`
 * changes an object's prototype instead of adding a key, so clients (Node, browsers, the AWS
 * SDKs) would drop or misread it. A loud 400 beats a key that vanishes somewhere downstream.
 * Other names of `Object.prototype` (`constructor`, `toString`, …) are ordinary keys.
 *
 * A queue holding such a tag from before (the SQS door stored it) keeps it; it can be removed.
 * The apply path and snapshots accept it, so old logs replay as they were written.
 *
 * @module
 */
import {
  checkAttributesInput,
  checkTagChanges,
  invalidParameter,
  type QueueAttributesInput,
  type TagChanges,
} from "../engine/mod.ts";

/** The reserved key. */
export const reservedKey = "__proto__";

/** Why it is refused, as every door's message says it (after `<field>: `). */
export const reservedKeyRule = "reserved name (__proto__ is refused as a key)";

/**
 * Throws 400 `InvalidParameter` `<field>.__proto__` when `value` is an object with an own
 * `__proto__` key (as `JSON.parse` makes one); anything else is left to the other checks.
 */
export function refuseReservedKey(value: unknown, field: string): void {
  if (typeof value === "object" && value !== null && Object.hasOwn(value, reservedKey)) {
    throw invalidParameter(`${field}.${reservedKey}`, reservedKeyRule);
  }
}

/** `checkAttributesInput` of a create or update body, refusing a tag named `__proto__` first. */
export function checkQueueInput(input: unknown): QueueAttributesInput {
  if (typeof input === "object" && input !== null) {
    refuseReservedKey((input as { tags?: unknown }).tags, "tags");
  }
  return checkAttributesInput(input);
}

/** `checkTagChanges` of a request, refusing to set a tag named `__proto__` first. */
export function checkTagChangesInput(changes: unknown): TagChanges | undefined {
  if (typeof changes === "object" && changes !== null) {
    refuseReservedKey((changes as { set?: unknown }).set, "tags");
  }
  return checkTagChanges(changes);
}
