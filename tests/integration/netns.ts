/**
 * Real network partitions for tests: one Linux network namespace per node, and the links
 * between them cut and healed by the kernel (needs root and `ip`; `netnsUnavailable()` says why
 * not, so a test can skip with the reason).
 *
 * Topology. Node i has the address `10.B.0.i` on its loopback. Each pair of nodes is joined
 * through a bridge in a separate "switch" namespace (node i ─veth─ bridge ─veth─ node j), with a
 * host route to the other node's address over that link. Cutting a pair detaches the two
 * switch-side ports from their bridge: every interface stays up and both nodes keep their
 * routes, but their packets vanish (a black hole, as in a real partition — no reset, no
 * "network unreachable"); attaching them again heals it. The test process reaches every node over a management link of its own that no cut
 * touches, and no node can reach another through it (no routes, no forwarding).
 *
 * Everything is created under names derived from the process id and removed by `destroy()`,
 * which tolerates a half-built topology.
 *
 * @module
 */

const decoder = new TextDecoder();

/** Runs `ip …`; throws with its stderr when it fails. */
export async function ip(...args: string[]): Promise<string> {
  const output = await new Deno.Command("ip", { args, stdout: "piped", stderr: "piped" }).output();
  if (!output.success) {
    throw new Error(`ip ${args.join(" ")}: ${decoder.decode(output.stderr).trim()}`);
  }
  return decoder.decode(output.stdout);
}

/** Why namespaces can't be used here, or null when they can. */
export async function netnsUnavailable(): Promise<string | null> {
  if (Deno.build.os !== "linux") return `network namespaces need Linux, this is ${Deno.build.os}`;
  const probe = `cmqdprobe${Deno.pid}`;
  try {
    await ip("netns", "add", probe);
  } catch (error) {
    return `cannot create a network namespace (${(error as Error).message}); needs root and ip`;
  }
  try {
    await ip("-n", probe, "link", "add", "p0", "type", "veth", "peer", "name", "p1");
    await ip("-n", probe, "link", "add", "b0", "type", "bridge");
  } catch (error) {
    return `veth or bridge links are refused (${(error as Error).message})`;
  } finally {
    await ip("netns", "del", probe).catch(() => "");
  }
  return null;
}

/** Three nodes in their own namespaces, joined pairwise through a switch namespace. */
export class PartitionNet {
  readonly #prefix: string;
  readonly #octet: number;
  readonly #nodes: number;

  private constructor(nodes: number) {
    this.#prefix = `cq${Deno.pid % 100_000}`;
    // A second octet per process, so two test runs on one host don't share routes.
    this.#octet = 200 + (Deno.pid % 50);
    this.#nodes = nodes;
  }

  /** Builds the namespaces, links and routes (destroying whatever it built if a step fails). */
  static async create(nodes = 3): Promise<PartitionNet> {
    const net = new PartitionNet(nodes);
    try {
      await net.#build();
    } catch (error) {
      await net.destroy();
      throw error;
    }
    return net;
  }

  /** The namespace of node `i` (1-based). */
  namespace(i: number): string {
    return `${this.#prefix}n${i}`;
  }

  /** Node `i`'s address. */
  address(i: number): string {
    return `10.${this.#octet}.0.${i}`;
  }

  /** Cuts the link between nodes `i` and `j` (both directions). */
  async cut(i: number, j: number): Promise<void> {
    await this.#setPair(i, j, "down");
  }

  /** Restores the link between nodes `i` and `j`. */
  async heal(i: number, j: number): Promise<void> {
    await this.#setPair(i, j, "up");
  }

  /** Cuts every link of node `i`. */
  async isolate(i: number): Promise<void> {
    for (const j of this.#others(i)) await this.cut(i, j);
  }

  /** Restores every link between nodes. */
  async healAll(): Promise<void> {
    for (let i = 1; i <= this.#nodes; i++) {
      for (const j of this.#others(i)) if (i < j) await this.heal(i, j);
    }
  }

  /** Removes every namespace and root-side link this net made (safe to call twice). */
  async destroy(): Promise<void> {
    for (let i = 1; i <= this.#nodes; i++) {
      await ip("route", "del", `${this.address(i)}/32`).catch(() => "");
      await ip("link", "del", this.#managementLink(i)).catch(() => "");
      await ip("netns", "del", this.namespace(i)).catch(() => "");
    }
    await ip("netns", "del", this.#switch).catch(() => "");
  }

  get #switch(): string {
    return `${this.#prefix}sw`;
  }

  #managementLink(i: number): string {
    return `${this.#prefix}m${i}`;
  }

  #others(i: number): number[] {
    return Array.from({ length: this.#nodes }, (_, k) => k + 1).filter((j) => j !== i);
  }

  async #setPair(i: number, j: number, state: "up" | "down"): Promise<void> {
    const [low, high] = i < j ? [i, j] : [j, i];
    // Detaching the ports from their bridge drops whatever arrives, while every interface stays
    // up: no carrier change, no route change, nothing a node could notice but silence.
    const master = state === "up" ? ["master", `b${low}${high}`] : ["nomaster"];
    await ip("-n", this.#switch, "link", "set", `s${low}${high}`, ...master);
    await ip("-n", this.#switch, "link", "set", `s${high}${low}`, ...master);
  }

  async #build(): Promise<void> {
    await ip("netns", "add", this.#switch);
    for (let i = 1; i <= this.#nodes; i++) {
      const ns = this.namespace(i);
      await ip("netns", "add", ns);
      await ip("-n", ns, "link", "set", "lo", "up");
      await ip("-n", ns, "addr", "add", `${this.address(i)}/32`, "dev", "lo");
      await this.#buildManagement(i);
    }
    for (let i = 1; i <= this.#nodes; i++) {
      for (const j of this.#others(i)) if (i < j) await this.#buildPair(i, j);
    }
  }

  /** A link from the test's namespace to node `i` only. */
  async #buildManagement(i: number): Promise<void> {
    const ns = this.namespace(i);
    const root = this.#managementLink(i);
    const [rootSide, nodeSide] = [`10.${this.#octet}.${10 + i}.1`, `10.${this.#octet}.${10 + i}.2`];
    await ip("link", "add", root, "type", "veth", "peer", "name", "m0", "netns", ns);
    await ip("addr", "add", `${rootSide}/30`, "dev", root);
    await ip("link", "set", root, "up");
    await ip("-n", ns, "addr", "add", `${nodeSide}/30`, "dev", "m0");
    await ip("-n", ns, "link", "set", "m0", "up");
    await ip("route", "add", `${this.address(i)}/32`, "via", nodeSide, "dev", root);
  }

  /** Node i ─ v{j} ─ s{i}{j} ═ bridge b{i}{j} ═ s{j}{i} ─ v{i} ─ node j. */
  async #buildPair(i: number, j: number): Promise<void> {
    const sw = this.#switch;
    const bridge = `b${i}${j}`;
    await ip("-n", sw, "link", "add", bridge, "type", "bridge");
    await ip("-n", sw, "link", "set", bridge, "up");
    for (const [from, to] of [[i, j], [j, i]]) {
      const ns = this.namespace(from);
      const nodeSide = `v${to}`;
      const switchSide = `s${from}${to}`;
      await ip(
        "-n",
        ns,
        "link",
        "add",
        nodeSide,
        "type",
        "veth",
        "peer",
        "name",
        switchSide,
        "netns",
        sw,
      );
      await ip("-n", sw, "link", "set", switchSide, "master", bridge);
      await ip("-n", sw, "link", "set", switchSide, "up");
      await ip("-n", ns, "link", "set", nodeSide, "up");
      await ip(
        "-n",
        ns,
        "route",
        "add",
        `${this.address(to)}/32`,
        "dev",
        nodeSide,
        "src",
        this.address(from),
      );
    }
  }
}
