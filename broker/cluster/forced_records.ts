/**
 * What --force-new-cluster writes ahead of its configuration changes on a node (the replica's
 * `ForceNewClusterOptions.recordRemovals`).
 *
 * @module
 */
import { CommandType, encodeJson, type StateMachine } from "../engine/mod.ts";

/**
 * The member records --force-new-cluster drops, ahead of its configuration changes: every
 * recorded address but `self`'s goes (the `removed` members', and any left over). A takeover
 * always removes a member, so this is never empty, and these engine entries carry the forced
 * entries' time stamp (the wall clock's when it is ahead of the log): an engine whose state time
 * skipped Raft's own entries (releases before it counted them) still reached that time at the
 * configuration changes, so an image it took there holds their time (`installReceivedSnapshot`).
 */
export function memberRecordRemovals(
  machine: StateMachine,
  self: string,
  removed: readonly string[],
): { type: number; payload: Uint8Array }[] {
  return [...new Set([...removed, ...machine.members().map((member) => member.id)])]
    .filter((id) => id !== self)
    .map((id) => ({ type: CommandType.SetMember, payload: encodeJson({ id, remove: true }) }));
}
