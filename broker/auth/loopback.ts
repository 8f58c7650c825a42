/**
 * Which addresses are loopback, for protected mode (README, "Security"): without a credentials
 * file the broker serves only clients on the same machine, and refuses to listen on anything but
 * a loopback address unless told `--insecure`.
 *
 * Literal addresses only: a host name other than `localhost` may resolve to anything (Debian maps
 * the machine's own name to 127.0.1.1, a container's name resolves to its external address), so
 * it counts as not loopback and the refusal asks for a literal or `--insecure`.
 *
 * @module
 */

const ipv4Pattern = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/**
 * True for `localhost`, `127.0.0.0/8`, `::1` (any spelling), IPv4-mapped `::ffff:127.x.y.z`, and
 * each of these in brackets. Deno reports a dual-stack socket's IPv4 clients in the mapped form.
 *
 * @example
 * ```ts
 * isLoopbackAddress("127.0.0.1"); // true
 * isLoopbackAddress("::ffff:127.0.0.1"); // true
 * isLoopbackAddress("0.0.0.0"); // false
 * ```
 */
export function isLoopbackAddress(address: string): boolean {
  let text = address.trim().toLowerCase();
  if (text.startsWith("[") && text.endsWith("]")) text = text.slice(1, -1);
  if (text === "localhost") return true;
  const ipv4 = ipv4Octets(text);
  if (ipv4 !== null) return ipv4[0] === 127;
  const groups = ipv6Groups(text);
  if (groups === null) return false;
  const zeroPrefix = (count: number) => groups.slice(0, count).every((group) => group === 0);
  if (zeroPrefix(7) && groups[7] === 1) return true;
  // ::ffff:127.x.y.z — an IPv4 loopback client on a dual-stack socket.
  return zeroPrefix(5) && groups[5] === 0xffff && groups[6] >> 8 === 127;
}

function ipv4Octets(text: string): number[] | null {
  const match = ipv4Pattern.exec(text);
  if (match === null) return null;
  const octets = match.slice(1).map(Number);
  return octets.every((octet) => octet <= 255) ? octets : null;
}

/** The eight 16-bit groups of an IPv6 literal (a trailing dotted IPv4 allowed), or null. */
function ipv6Groups(text: string): number[] | null {
  let rest = text;
  const tailGroups: number[] = [];
  const lastColon = rest.lastIndexOf(":");
  const ipv4 = lastColon === -1 ? null : ipv4Octets(rest.slice(lastColon + 1));
  if (ipv4 !== null) {
    tailGroups.push((ipv4[0] << 8) | ipv4[1], (ipv4[2] << 8) | ipv4[3]);
    rest = rest.slice(0, lastColon + 1);
    // "::ffff:" keeps its "::"; "0:0:0:0:0:ffff:" loses the now dangling colon.
    if (!rest.endsWith("::")) rest = rest.slice(0, -1);
  }
  const halves = rest.split("::");
  if (halves.length > 2) return null;
  const parse = (half: string) => half === "" ? [] : half.split(":").map(parseGroup);
  const head = parse(halves[0]);
  const tail = [...(halves.length === 2 ? parse(halves[1]) : []), ...tailGroups];
  if ([...head, ...tail].some((group) => group === null)) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  return [...head, ...Array(missing).fill(0), ...tail] as number[];
}

function parseGroup(group: string): number | null {
  return /^[0-9a-f]{1,4}$/.test(group) ? Number.parseInt(group, 16) : null;
}
