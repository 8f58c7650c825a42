/**
 * The shape of a join request (`POST /v1/cluster/nodes`): checked before the leader looks at
 * the cluster (`Membership.join`).
 *
 * @module
 */
import type { JoinRequest } from "../../sdk/protocol.ts";
import { invalidParameter, namePattern } from "../engine/mod.ts";

const peerAddressPattern = /^([^\s=,:/]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/;

/** Throws `InvalidParameter` naming the first field of `request` that is malformed. */
export function checkJoin(request: JoinRequest): void {
  if (typeof request.id !== "string" || !namePattern.test(request.id)) {
    throw invalidParameter(
      "id",
      "must be 1–64 letters, digits, '-' or '_', starting with a letter",
    );
  }
  // A string, not anything whose text reads as one (`["h:1"]`): the recorded address is the value.
  const match = typeof request.peerAddress === "string"
    ? peerAddressPattern.exec(request.peerAddress)
    : null;
  if (!match || Number(match[2]) === 0 || Number(match[2]) > 65_535) {
    throw invalidParameter("peerAddress", "must be host:port");
  }
  if (typeof request.clientUrl !== "string" || !/^https?:\/\/[^/\s]+$/.test(request.clientUrl)) {
    throw invalidParameter("clientUrl", "must be a base URL like http://host:port");
  }
}
