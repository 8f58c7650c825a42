/**
 * Test helper: real nodes in one process, on simulated disks, over an in-memory network whose
 * nodes a test may cut off. Each message is copied and delivered in a microtask, while both ends
 * are linked (neither cut, the receiver not closed).
 *
 * @module
 */
import type { Message } from "../../raft/mod.ts";
import { SimFileSystem } from "../../storage/mod.ts";
import { type CmqdNode, type NodeOptions, startNode } from "./node.ts";
import { realClock, realTimers } from "./real_time.ts";
import { LocalTransport } from "./testing/mod.ts";

/** The nodes' ends by id; a node in `cut` neither sends nor receives. */
export class NodeNetwork {
  readonly ends = new Map<string, NodeWire>();
  readonly cut = new Set<string>();

  linked(from: string, to: string): boolean {
    const end = this.ends.get(to);
    return !this.cut.has(from) && !this.cut.has(to) && end !== undefined && !end.closed;
  }
}

/** One node's end of a `NodeNetwork`: connected to another while the two are linked. */
export class NodeWire extends LocalTransport {
  constructor(readonly network: NodeNetwork, readonly id: string) {
    super();
    network.ends.set(id, this);
  }

  send(messages: Message[]): void {
    for (const message of messages) {
      if (this.closed || !this.network.linked(this.id, message.to)) continue;
      const copy = structuredClone(message);
      queueMicrotask(() => {
        if (this.network.linked(copy.from, copy.to)) {
          this.network.ends.get(copy.to)?.handler?.(copy);
        }
      });
    }
  }

  isConnected(id: string): boolean {
    return this.network.linked(this.id, id);
  }
}

/**
 * Starts one voter per id on `network`, in order (ticks of 5 ms, silent reports); `options` adds
 * to or replaces each node's options. A node that fails to start closes those already started.
 */
export async function startNodeGroup(
  network: NodeNetwork,
  ids: string[],
  options: Partial<NodeOptions> = {},
): Promise<CmqdNode[]> {
  const nodes: CmqdNode[] = [];
  try {
    for (const [index, id] of ids.entries()) {
      nodes.push(
        await startNode({
          nodeId: id,
          dataDir: "/d",
          fs: new SimFileSystem(),
          clock: realClock,
          timers: realTimers,
          transport: new NodeWire(network, id),
          initialVoters: ids,
          url: `http://127.0.0.1:${index + 1}`,
          tickMs: 5,
          report: () => {},
          ...options,
        }),
      );
    }
  } catch (error) {
    for (const node of nodes) await node.close();
    throw error;
  }
  return nodes;
}
