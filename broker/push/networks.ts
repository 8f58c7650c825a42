/**
 * IP addresses and networks for the push destination rules (`destinations.ts`): parsing IPv4 and
 * IPv6 text, the CIDR list of `--push-deny-networks` with its keywords, and matching an address.
 *
 * Matching rules:
 * - An IPv4-mapped IPv6 address (`::ffff:127.0.0.1`, which a dual-stack socket connects to over
 *   IPv4) is matched as the IPv4 address; so is an IPv4-mapped network in the list
 *   (`::ffff:10.0.0.0/104` is `10.0.0.0/8`).
 * - An IPv6 network that covers the whole IPv4-mapped block `::ffff:0:0/96` (`::/0`, `::/64`)
 *   covers every IPv4 address too, written mapped or not: both forms reach the same host, and
 *   `::ffff:0:0/96` itself is `0.0.0.0/0`. Other IPv6 networks hold no IPv4 address.
 * - The unspecified address (`0.0.0.0`, `::`) is matched as loopback (`127.0.0.1`, `::1`): a
 *   connection to it reaches this host (Linux connects it to loopback), so denying `127.0.0.0/8`
 *   must deny it too.
 * - An IPv6 address of a block that carries an IPv4 address inside it is also matched as that
 *   IPv4 address (`embeddedIpv4`): IPv4-compatible `::a.b.c.d` (`::/96`), IPv4-translated
 *   `::ffff:0:a.b.c.d` (`::ffff:0:0:0/96`), NAT64 `64:ff9b::a.b.c.d` (`64:ff9b::/96`) and the
 *   local-use NAT64 block `64:ff9b:1::/48` (the IPv4 address at each place its prefix length may
 *   put it), 6to4 `2002:aabb:ccdd::/48`, Teredo `2001::/32` (server and client). A host with a
 *   translator or tunnel for one of them reaches that IPv4 host through it, so denying
 *   `10.0.0.0/8` must deny `64:ff9b::a00:1` too; where none is routed they reach nothing, and
 *   refusing them costs nothing.
 *
 * Keywords (each expands to standard ranges, IPv4 and IPv6):
 * - `loopback`: `127.0.0.0/8`, `::1/128`.
 * - `private`: `10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16` (RFC 1918), `100.64.0.0/10`
 *   (RFC 6598, carrier-grade NAT, used inside some clouds and Kubernetes setups), `fc00::/7`
 *   (RFC 4193, unique local).
 * - `link-local`: `169.254.0.0/16` (the cloud metadata address `169.254.169.254` is in it),
 *   `fe80::/10`.
 *
 * @module
 */

/** An IP address: 32 bits (IPv4) or 128 bits (IPv6) as a number. */
export interface IpAddress {
  family: 4 | 6;
  value: bigint;
}

/** One network of the deny list, with the entry of the list it came from. */
export interface Network {
  family: 4 | 6;
  /** The address with the bits past `prefixBits` cleared. */
  base: bigint;
  prefixBits: number;
  /** The network in CIDR form, normalised (`10.0.0.0/8`). */
  cidr: string;
  /** What the list said: the CIDR as given, or the keyword. */
  entry: string;
}

/** The keywords of `--push-deny-networks` and their ranges. */
export const networkKeywords: Readonly<Record<string, readonly string[]>> = {
  loopback: ["127.0.0.0/8", "::1/128"],
  private: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"],
  "link-local": ["169.254.0.0/16", "fe80::/10"],
};

const ipv4Part = /^(0|[1-9][0-9]{0,2})$/;
const hexGroup = /^[0-9a-fA-F]{1,4}$/;
/** `::ffff:0:0`, the first IPv4-mapped IPv6 address. */
const ipv4MappedBase = 0xffffn << 32n;

/** Parses a dotted-quad IPv4 address (no leading zeros, no shorthand), or null. */
function parseIpv4(text: string): bigint | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  let value = 0n;
  for (const part of parts) {
    if (!ipv4Part.test(part) || Number(part) > 255) return null;
    value = (value << 8n) | BigInt(part);
  }
  return value;
}

/** Parses an IPv6 address (`::` shorthand, a trailing dotted quad, no zone), or null. */
function parseIpv6(text: string): bigint | null {
  if (!text.includes(":")) return null;
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groupsOf = (half: string): number[] | null => {
    if (half === "") return [];
    const groups: number[] = [];
    const parts = half.split(":");
    for (let index = 0; index < parts.length; index++) {
      const part = parts[index];
      if (index === parts.length - 1 && part.includes(".")) {
        const ipv4 = parseIpv4(part);
        if (ipv4 === null) return null;
        groups.push(Number(ipv4 >> 16n), Number(ipv4 & 0xffffn));
      } else if (hexGroup.test(part)) {
        groups.push(parseInt(part, 16));
      } else {
        return null;
      }
    }
    return groups;
  };
  const head = groupsOf(halves[0]);
  const tail = halves.length === 2 ? groupsOf(halves[1]) : [];
  if (head === null || tail === null) return null;
  // A dotted quad may only end the address.
  if (halves.length === 2 && halves[0].includes(".")) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  let value = 0n;
  for (const group of [...head, ...new Array(halves.length === 2 ? missing : 0).fill(0), ...tail]) {
    value = (value << 16n) | BigInt(group);
  }
  return value;
}

/**
 * Parses an IP address as given (a URL's host may be in brackets; a zone `%eth0` is dropped), or
 * null when the text is not one (a host name).
 */
export function parseIp(text: string): IpAddress | null {
  const bare = text.replace(/^\[(.*)\]$/, "$1").replace(/%.*$/, "");
  const ipv4 = parseIpv4(bare);
  if (ipv4 !== null) return { family: 4, value: ipv4 };
  const ipv6 = parseIpv6(bare);
  return ipv6 === null ? null : { family: 6, value: ipv6 };
}

/**
 * The address a connection to `address` reaches, for matching: an IPv4-mapped IPv6 address as
 * IPv4, the unspecified address as loopback (see the module).
 */
export function effectiveAddress(address: IpAddress): IpAddress {
  if (address.family === 6 && address.value >> 32n === 0xffffn) {
    return effectiveAddress({ family: 4, value: address.value & 0xffffffffn });
  }
  if (address.value === 0n) {
    return { family: address.family, value: address.family === 4 ? 0x7f000001n : 1n };
  }
  return address;
}

/** The IPv4 address in the 32 bits of `value` at `shift`. */
function ipv4At(value: bigint, shift: bigint): IpAddress {
  return { family: 4, value: (value >> shift) & 0xffffffffn };
}

/**
 * The IPv4 addresses an IPv6 address (already effective) carries for a translator or tunnel to
 * reach (see the module); none for other addresses. `0.0.0.0` is left out: a translator has
 * nowhere to take it (and a local-use NAT64 address read at another prefix length than its own
 * often gives it).
 *
 * @example
 * ```ts
 * embeddedIpv4(parseIp("64:ff9b::a00:1")!).map(formatIp); // ["10.0.0.1"]
 * ```
 */
export function embeddedIpv4(address: IpAddress): IpAddress[] {
  if (address.family !== 6) return [];
  const value = address.value;
  // ::/96, IPv4-compatible (:: and ::1 are themselves: unspecified, loopback).
  if (value >> 32n === 0n) return value > 1n ? [ipv4At(value, 0n)] : [];
  return embeddedIn(value).filter((ipv4) => ipv4.value !== 0n);
}

/** `embeddedIpv4` for an address not in `::/96`, zeros included. */
function embeddedIn(value: bigint): IpAddress[] {
  // ::ffff:0:0:0/96, IPv4-translated; 64:ff9b::/96, NAT64's well-known prefix.
  if (value >> 32n === 0xffff0000n || value >> 32n === 0x0064ff9b0000000000000000n) {
    return [ipv4At(value, 0n)];
  }
  // 64:ff9b:1::/48, local-use NAT64: the IPv4 address sits where the prefix length puts it
  // (RFC 6052: /48, /56, /64 around the reserved bits 64–71; /96 the last 32 bits).
  if (value >> 80n === 0x0064ff9b0001n) {
    const at48 = (((value >> 64n) & 0xffffn) << 16n) | ((value >> 40n) & 0xffffn);
    const at56 = (((value >> 64n) & 0xffn) << 24n) | ((value >> 32n) & 0xffffffn);
    const at64 = (value >> 24n) & 0xffffffffn;
    return [at48, at56, at64, value].map((bits) => ipv4At(bits, 0n));
  }
  // 2002::/16, 6to4: the IPv4 address follows the prefix.
  if (value >> 112n === 0x2002n) return [ipv4At(value, 80n)];
  // 2001::/32, Teredo: the server's address, then the client's with every bit flipped.
  if (value >> 96n === 0x20010000n) {
    return [ipv4At(value, 64n), ipv4At(~value & 0xffffffffn, 0n)];
  }
  return [];
}

/**
 * Whether `address` (already effective) lies in `network`; an IPv4 address lies in an IPv6
 * network when its IPv4-mapped form does (see the module).
 */
export function inNetwork(address: IpAddress, network: Network): boolean {
  let value = address.value;
  if (address.family !== network.family) {
    if (address.family === 6) return false; // effective: not a mapped one, so in no IPv4 network
    value |= ipv4MappedBase;
  }
  const shift = BigInt((network.family === 4 ? 32 : 128) - network.prefixBits);
  return (value >> shift) << shift === network.base;
}

/** Whether `address` (already effective) is a loopback address (`127.0.0.0/8`, `::1`). */
export function isLoopback(address: IpAddress): boolean {
  return address.family === 4 ? address.value >> 24n === 127n : address.value === 1n;
}

/** The text of an address: IPv4 dotted, IPv6 with its longest run of zero groups as `::`. */
export function formatIp(address: IpAddress): string {
  if (address.family === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => String((address.value >> shift) & 0xffn)).join(".");
  }
  const groups: string[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) {
    groups.push(((address.value >> shift) & 0xffffn).toString(16));
  }
  let best = { at: -1, length: 1 };
  for (let at = 0; at < 8; at++) {
    let length = 0;
    while (at + length < 8 && groups[at + length] === "0") length++;
    if (length > best.length) best = { at, length };
  }
  if (best.at < 0) return groups.join(":");
  const before = groups.slice(0, best.at).join(":");
  const after = groups.slice(best.at + best.length).join(":");
  return `${before}::${after}`;
}

/** Parses one CIDR (`10.0.0.0/8`, `fd00::/8`; a bare address is a /32 or /128). */
function parseCidr(text: string, entry: string, source: string): Network {
  const slash = text.indexOf("/");
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const prefixText = slash < 0 ? null : text.slice(slash + 1);
  const parsed = parseIp(addressText);
  if (parsed === null || addressText.includes("%") || addressText.startsWith("[")) {
    throw new Error(
      `${source}: '${text}' is not an IPv4 or IPv6 network (CIDR such as 10.0.0.0/8 or ` +
        `fc00::/7) nor one of ${Object.keys(networkKeywords).join(", ")}`,
    );
  }
  const bits = parsed.family === 4 ? 32 : 128;
  if (prefixText !== null && !/^(0|[1-9][0-9]{0,2})$/.test(prefixText)) {
    throw new Error(`${source}: '${text}': the prefix length is not a number`);
  }
  let prefixBits = prefixText === null ? bits : Number(prefixText);
  if (prefixBits > bits) {
    throw new Error(`${source}: '${text}': an IPv${parsed.family} prefix has at most ${bits} bits`);
  }
  let address = parsed;
  // An IPv4-mapped network is the IPv4 network (connections to mapped addresses are IPv4).
  if (parsed.family === 6 && prefixBits >= 96 && parsed.value >> 32n === 0xffffn) {
    address = { family: 4, value: parsed.value & 0xffffffffn };
    prefixBits -= 96;
  }
  const shift = BigInt((address.family === 4 ? 32 : 128) - prefixBits);
  const base = (address.value >> shift) << shift;
  const cidr = `${formatIp({ family: address.family, value: base })}/${prefixBits}`;
  if (base !== address.value) {
    throw new Error(
      `${source}: '${text}' has bits set past its /${prefixText} prefix (did you mean ${cidr}?)`,
    );
  }
  return { family: address.family, base, prefixBits, cidr, entry };
}

/**
 * Parses a comma-separated list of CIDRs and keywords (spaces around entries are ignored, an
 * empty list is none).
 *
 * @example
 * ```ts
 * parseNetworks("loopback, 10.0.0.0/8").map((network) => network.cidr);
 * // ["127.0.0.0/8", "::1/128", "10.0.0.0/8"]
 * ```
 */
export function parseNetworks(raw: string, source = "--push-deny-networks"): Network[] {
  const networks: Network[] = [];
  for (const part of raw.split(",")) {
    const text = part.trim();
    if (text === "") {
      if (raw.trim() === "") continue;
      throw new Error(`${source}: an empty entry in '${raw}'`);
    }
    const keyword = networkKeywords[text.toLowerCase()];
    if (keyword !== undefined) {
      for (const cidr of keyword) networks.push(parseCidr(cidr, text.toLowerCase(), source));
    } else {
      networks.push(parseCidr(text, text, source));
    }
  }
  return networks;
}
