/**
 * Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection, not the message, so a node
 * that relays a message from one connection to another (a follower forwarding a client's request
 * to its leader, and the leader's answer back) drops them, and every header the message's
 * `connection` header names.
 *
 * @module
 */

/** Hop-by-hop on every leg, request or answer. */
const hopByHop = [
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
];

/** A header name is a token (RFC 9110 §5.1); anything else names no header. */
const token = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * The lower-case names of the headers a relay drops from a message whose `connection` header is
 * `connection` (null when it has none): the hop-by-hop ones, those `connection` names, and `extra`.
 *
 * @example
 * ```ts
 * const drop = hopByHopNames(headers.get("connection"), ["host"]);
 * for (const name of drop) headers.delete(name);
 * ```
 */
export function hopByHopNames(
  connection: string | null,
  extra: readonly string[] = [],
): Set<string> {
  const names = new Set([...hopByHop, ...extra]);
  for (const name of (connection ?? "").split(",")) {
    const trimmed = name.trim();
    if (token.test(trimmed)) names.add(trimmed.toLowerCase());
  }
  return names;
}
