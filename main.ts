/**
 * The cmqd program. The only place that reads flags and the environment and builds the real
 * clock and file system; everything else receives them.
 *
 * ```sh
 * deno run -A main.ts --port 9876 --data-dir ./data
 * ```
 *
 * @module
 */
import { parseConfig, usage } from "./broker/config.ts";
import { startNode } from "./broker/mod.ts";
import { RealFileSystem } from "./storage/mod.ts";

async function main(): Promise<void> {
  let config;
  try {
    config = parseConfig(Deno.args, Deno.env.toObject());
  } catch (error) {
    console.error(`cmqd: ${(error as Error).message}\n\n${usage}`);
    Deno.exit(2);
  }
  if (config.help) {
    console.log(usage);
    return;
  }
  const url = `http://${config.host.includes(":") ? `[${config.host}]` : config.host}`;
  const node = await startNode({
    nodeId: config.nodeId,
    dataDir: config.dataDir,
    fs: new RealFileSystem(),
    clock: { now: () => Date.now() },
    mmap: config.mmap,
  });
  const controller = new AbortController();
  const server = Deno.serve({
    hostname: config.host,
    port: config.port,
    signal: controller.signal,
    onListen: ({ port }) => console.log(`cmqd ${config.nodeId} serving ${url}:${port}`),
  }, node.app.fetch);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`cmqd ${config.nodeId}: ${signal}, shutting down`);
    // Order matters: stop accepting, let in-flight writes reach the disk, then close the log.
    controller.abort();
    await node.close();
    await server.finished.catch(() => {});
    console.log(`cmqd ${config.nodeId}: stopped`);
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", () => void stop("SIGINT"));
  Deno.addSignalListener("SIGTERM", () => void stop("SIGTERM"));
}

if (import.meta.main) await main();
