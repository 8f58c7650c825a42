/**
 * Checked decoding of the JSON-encoded admin and cluster commands whose fields the state machine
 * must validate before acting (Redrive, SetMember). A bad field is an `InvalidParameter` (Redrive,
 * proposed from a request) or a `MalformedRequest` value (SetMember, proposed by the cluster).
 *
 * @module
 */
import { BrokerError, invalidParameter } from "./errors.ts";
import { decodeJsonCommand, decodeJsonObject } from "./commands.ts";
import type { MemberAddress } from "./state_codec.ts";

/** Messages one Redrive command moves at most (and by default). */
export const redriveMessagesMax = 100_000;

/** A Redrive command: move up to `maxMessages` of `queue` to `destination` (or their origins). */
export interface RedriveCommand {
  queue: string;
  destination?: string;
  maxMessages: number;
}

/** Decodes a Redrive payload; throws `InvalidParameter` for a bad field. */
export function decodeRedrive(payload: Uint8Array): RedriveCommand {
  const command = decodeJsonCommand(payload);
  const { destination, maxMessages } = command;
  if (
    typeof maxMessages !== "number" || !Number.isInteger(maxMessages) || maxMessages < 1 ||
    maxMessages > redriveMessagesMax
  ) {
    throw invalidParameter("maxMessages", `must be between 1 and ${redriveMessagesMax}`);
  }
  if (destination !== undefined && typeof destination !== "string") {
    throw invalidParameter("destination", "must be a string");
  }
  return { queue: command.queue, destination, maxMessages };
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
