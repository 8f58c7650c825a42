/**
 * A real one-node cmqd broker in this process for the SDK's integration tests: `startNode` on
 * a temporary data directory, served by `Deno.serve` on a free loopback port. `stop()` closes
 * the listener and the node and removes the directory.
 *
 * @module
 */
import { type CmqdNode, noPeers, realTimers, startNode } from "../../broker/mod.ts";
import { RealFileSystem } from "../../storage/mod.ts";
import { CmqdClient, type CmqdClientOptions } from "../../sdk/mod.ts";

/** How long a fresh node may take to elect itself and serve. */
const readyWaitMsMax = 10_000;

/** A running broker. */
export interface TestBroker {
  url: string;
  /** A client of this broker (closed by `stop`). */
  client: CmqdClient;
  /** Another client with its own options (closed by `stop`). */
  newClient(options?: Partial<CmqdClientOptions>): CmqdClient;
  stop(): Promise<void>;
}

/**
 * Starts a one-voter node and waits until it serves writes.
 *
 * @example
 * ```ts
 * const broker = await startTestBroker();
 * try {
 *   await broker.client.createQueue("jobs");
 * } finally {
 *   await broker.stop();
 * }
 * ```
 */
export async function startTestBroker(): Promise<TestBroker> {
  const dataDir = await Deno.makeTempDir({ prefix: "cmqd-sdk-test-" });
  let node: CmqdNode | undefined;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => node?.handler(request) ?? Promise.resolve(new Response(null, { status: 503 })),
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  const clients: CmqdClient[] = [];
  const newClient = (options: Partial<CmqdClientOptions> = {}) => {
    const client = new CmqdClient({ baseUrl: url, timeoutMs: 10_000, ...options });
    clients.push(client);
    return client;
  };
  try {
    node = await startNode({
      nodeId: "n1",
      dataDir,
      fs: new RealFileSystem(),
      clock: { now: () => Date.now() },
      timers: realTimers,
      transport: noPeers(),
      initialVoters: ["n1"],
      url,
    });
  } catch (error) {
    await server.shutdown();
    await Deno.remove(dataDir, { recursive: true });
    throw error;
  }
  const started = node;
  const client = newClient();
  const giveUpAt = Date.now() + readyWaitMsMax;
  while (!(await client.ready().catch(() => false))) {
    if (Date.now() > giveUpAt) {
      throw new Error(`the test broker was not ready in ${readyWaitMsMax} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return {
    url,
    client,
    newClient,
    async stop() {
      for (const each of clients) each.close();
      // As main.ts does: stop accepting, answer parked polls by closing the node, drain.
      const drained = server.shutdown();
      await started.close();
      await drained;
      await Deno.remove(dataDir, { recursive: true });
    },
  };
}
