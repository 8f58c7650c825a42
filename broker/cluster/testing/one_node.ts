/**
 * A real single-node cluster member on a simulated file system, with real time, for tests of a
 * whole node (its HTTP app, replica and background work) without sockets.
 *
 * @module
 */
import type { SimFileSystem } from "../../../storage/mod.ts";
import { type CmqdNode, type NodeOptions, noPeers, startNode } from "../node.ts";
import { realClock, realTimers } from "../real_time.ts";

/** Polls `condition` every 10 ms until it holds; throws naming `what` after 20 s. */
export async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Node `n1` alone on `fs` (data in `/d`), started and waited for until it leads. */
export async function startOneNode(
  fs: SimFileSystem,
  overrides: Partial<NodeOptions> = {},
): Promise<CmqdNode> {
  const node = await startNode({
    nodeId: "n1",
    dataDir: "/d",
    fs,
    clock: realClock,
    timers: realTimers,
    transport: noPeers(),
    initialVoters: ["n1"],
    url: "http://127.0.0.1:1",
    tickMs: 5,
    ...overrides,
  });
  await until(() => node.replica.isLeader, "leadership");
  return node;
}
