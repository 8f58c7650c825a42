/**
 * Where a push may connect (README, "Topics", "Push destinations"). The push client opens every
 * connection through `PushDestinations.connect`: the endpoint's host is resolved here (an IP
 * literal is its own address), each address is checked, and the connection goes to an address
 * that passed, by address, so a name that resolves elsewhere between the check and the connect
 * (DNS rebinding) can't move it. The URL's host name still goes in the `host` header and, for
 * `https:`, in TLS (server name and certificate check).
 *
 * An address is refused when:
 * - it is in a network of `--push-deny-networks` (`networks.ts` has the matching rules: an
 *   IPv4-mapped IPv6 address is matched as IPv4, an IPv6 network covering the mapped block
 *   (`::/0`) holds every IPv4 address, `0.0.0.0` and `::` are matched as loopback, and an IPv6
 *   address that carries an IPv4 one for a translator or tunnel, as NAT64 `64:ff9b::a.b.c.d`
 *   does, is matched as that address too); or
 * - always, whatever the list (an address carrying an IPv4 one checked as both): with the port of this node's API listener, it is an address that
 *   listener answers on: loopback, the unspecified address, the listener's own address, or, when
 *   it listens on every interface (`0.0.0.0`, `::`), any address of this host; or, with the port
 *   of a member's client URL (this node's advertised one included), an address that URL's host
 *   is or resolves to. A push there publishes into this cluster again: a subscription to its own
 *   topic's publish URL turned one publish into a thousand messages in 3 s. Another broker (another
 *   host, or another port here) is not refused.
 *
 * The addresses of a name that pass are tried in the resolver's order until one connects; the
 * refused ones are skipped, and a name with no address left is refused. A refusal is a failed
 * attempt like any unreachable endpoint (the subscription pauses, then retries), with the reason
 * in its `lastError`; nothing is connected.
 *
 * @module
 */
import { lookup } from "node:dns/promises";
import {
  effectiveAddress,
  embeddedIpv4,
  formatIp,
  inNetwork,
  type IpAddress,
  isLoopback,
  type Network,
  parseIp,
} from "./networks.ts";

/** The listener this node serves its HTTP API on. */
export interface ApiListener {
  /** The address it is bound to (`--host`): an IP, `0.0.0.0`/`::` (every interface) or a name. */
  host: string;
  port: number;
}

/** Options of `PushDestinations`. */
export interface PushDestinationsOptions {
  /** Networks pushes never connect to (`--push-deny-networks`). Default none. */
  deny?: Network[];
  /** This node's API listener: always refused. Default none. */
  listener?: ApiListener;
  /** Client URLs of the cluster's members, this node's advertised one included: refused. */
  memberUrls?: () => Iterable<string>;
  /** The addresses of a host name (default: the system's resolver, as `Deno.connect` used). */
  resolve?: (hostname: string) => Promise<string[]>;
  /** Whether an address is one of this host's (default: whether a listener can bind to it). */
  isLocal?: (address: string) => boolean;
  /** Opens a TCP connection to an address (default `Deno.connect`). */
  connect?: (address: string, port: number) => Promise<Deno.TcpConn>;
}

/** A destination that must not be connected to; the message says why. */
export class PushRefused extends Error {
  override name = "PushRefused";
}

/**
 * Checks push destinations and connects to the ones allowed.
 *
 * @example
 * ```ts
 * const destinations = new PushDestinations({
 *   deny: parseNetworks("private"),
 *   listener: { host: "0.0.0.0", port: 9876 },
 * });
 * const client = new PushHttpClient({}, destinations);
 * ```
 */
export class PushDestinations {
  readonly #deny: Network[];
  readonly #listener: ApiListener | undefined;
  readonly #memberUrls: () => Iterable<string>;
  readonly #resolve: (hostname: string) => Promise<string[]>;
  readonly #isLocal: (address: string) => boolean;
  readonly #connect: (address: string, port: number) => Promise<Deno.TcpConn>;

  constructor(options: PushDestinationsOptions = {}) {
    this.#deny = options.deny ?? [];
    this.#listener = options.listener;
    this.#memberUrls = options.memberUrls ?? (() => []);
    this.#resolve = options.resolve ?? systemResolve;
    this.#isLocal = options.isLocal ?? canBind;
    this.#connect = options.connect ??
      ((address, port) => Deno.connect({ hostname: address, port }));
  }

  /**
   * The addresses a connection to `hostname:port` may use, in the order to try them; throws a
   * `PushRefused` when there are none.
   */
  async addresses(hostname: string, port: number): Promise<string[]> {
    const literal = parseIp(hostname);
    const addresses = literal !== null
      ? [hostname.replace(/^\[(.*)\]$/, "$1")]
      : await this.#resolve(hostname).catch((error) => {
        const reason = error instanceof Error ? error.message : String(error);
        throw new Error(`tcp connect error: ${hostname}:${port}: ${reason}`, { cause: error });
      });
    if (addresses.length === 0) {
      throw new Error(`tcp connect error: ${hostname}:${port}: the name has no address`);
    }
    const allowed: string[] = [];
    let refusal: string | null = null;
    for (const address of addresses) {
      const reason = await this.#refusal(address, port);
      if (reason === null) allowed.push(address);
      else refusal ??= reason;
    }
    if (allowed.length === 0) {
      const name = literal === null ? `${hostname} (${addresses.join(", ")})` : hostname;
      throw new PushRefused(`push to ${name} port ${port} refused: ${refusal}`);
    }
    return allowed;
  }

  /**
   * The member client URLs as one string: when it changes, connections checked before may now
   * reach a member's API, and must not be reused (`PushHttpClient` drops them).
   */
  membersKey(): string {
    return [...this.#memberUrls()].join(" ");
  }

  /** Connects to the first allowed address of `hostname` that answers (`connectTcp` of the SDK). */
  readonly connect = async (
    hostname: string,
    port: number,
    signal: AbortSignal,
  ): Promise<Deno.TcpConn> => {
    const addresses = await this.addresses(hostname, port);
    let failure: unknown = null;
    for (const address of addresses) {
      if (signal.aborted) break;
      try {
        return await this.#connect(address, port);
      } catch (error) {
        if (error instanceof Deno.errors.NotCapable) throw error;
        failure = error;
      }
    }
    const reason = failure instanceof Error ? failure.message : String(failure ?? "aborted");
    throw new Error(`tcp connect error: ${hostname}:${port}: ${reason}`, { cause: failure });
  };

  /**
   * Why `address` (text, as resolved) may not be connected to at `port`, or null: checked as
   * itself and as each IPv4 address it carries (`embeddedIpv4`), refused when any form is.
   */
  async #refusal(address: string, port: number): Promise<string | null> {
    const parsed = parseIp(address);
    if (parsed === null) return `${address} is not an IP address`;
    const target = effectiveAddress(parsed);
    for (const form of [target, ...embeddedIpv4(target)]) {
      const named = form === target ? address : `${address} (carrying ${formatIp(form)})`;
      const reason = await this.#formRefusal(named, form, port);
      if (reason !== null) return reason;
    }
    return null;
  }

  /** Why the address `target` (effective; `address` names it) may not be used at `port`. */
  async #formRefusal(address: string, target: IpAddress, port: number): Promise<string | null> {
    const listener = this.#listener;
    if (listener !== undefined && port === listener.port && await this.#isOwn(target, listener)) {
      return `${address} port ${port} is this node's own API listener (a push there would ` +
        "publish into this broker again)";
    }
    for (const url of this.#memberUrls()) {
      const member = URL.parse(url);
      if (member === null || portOf(member) !== port) continue;
      if (await this.#nameHas(member.hostname, target)) {
        return `${address} port ${port} is the API of cluster member ${member.origin} (a push ` +
          "there would publish into this cluster again)";
      }
    }
    const network = this.#deny.find((network) => inNetwork(target, network));
    if (network !== undefined) {
      const range = network.entry === network.cidr
        ? network.cidr
        : `${network.entry} ${network.cidr}`;
      return `${address} is in ${range}, which --push-deny-networks excludes`;
    }
    return null;
  }

  /** Whether the listener answers on `address` (see the module). */
  async #isOwn(address: IpAddress, listener: ApiListener): Promise<boolean> {
    const target = effectiveAddress(address);
    if (isLoopback(target)) return true; // the unspecified address included (effective)
    const bound = parseIp(listener.host);
    if (bound !== null && bound.value === 0n) return this.#isLocal(formatIp(target));
    return await this.#nameHas(listener.host, target);
  }

  /** Whether host `name` (an IP or a name, resolved now) is or has the address `target`. */
  async #nameHas(name: string, target: IpAddress): Promise<boolean> {
    const literal = parseIp(name);
    const addresses = literal !== null ? [name] : await this.#resolve(name).catch(() => []);
    return addresses.some((text) => {
      const parsed = parseIp(text);
      if (parsed === null) return false;
      const effective = effectiveAddress(parsed);
      return effective.family === target.family && effective.value === target.value;
    });
  }
}

/** The port a URL connects to. */
function portOf(url: URL): number {
  return url.port !== "" ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
}

/** The system's resolver (getaddrinfo: `/etc/hosts`, DNS with search domains), all addresses. */
async function systemResolve(hostname: string): Promise<string[]> {
  const found = await lookup(hostname, { all: true, verbatim: true });
  return found.map((entry) => entry.address);
}

/**
 * Whether `address` is one of this host's: binding a listener to it works only then (no
 * `--allow-sys` needed, and addresses added later are seen). An error other than "not available"
 * counts as local: only reached for the listener's own port, where refusing is the safe answer.
 */
function canBind(address: string): boolean {
  try {
    Deno.listen({ hostname: address, port: 0 }).close();
    return true;
  } catch (error) {
    return !(error instanceof Deno.errors.AddrNotAvailable);
  }
}
