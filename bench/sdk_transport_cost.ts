/**
 * Client CPU per request of the SDK's transports, side by side: the no-op server runs in its own
 * process (so its CPU is not counted), and this process sends 1 KB messages one per request with
 * `lanes` requests in flight, alternating transports `rounds` times. Prints, per run, the
 * process's CPU (user + system) and wall time per request.
 *
 * Run: `deno run -A bench/sdk_transport_cost.ts [--requests 8000] [--lanes 4] [--rounds 3]`.
 *
 * @module
 */
import process from "node:process";
import { CmqdClient, FetchTransport, Http1Transport, type HttpTransport } from "../sdk/mod.ts";
import { NodeHttpTransport } from "../sdk/transport_node.ts";
import { option } from "./cli_options.ts";

const requests = option("requests", 8000);
const lanes = option("lanes", 4);
const rounds = option("rounds", 3);

const transports: Record<string, () => HttpTransport> = {
  fetch: () => new FetchTransport(),
  http1: () => new Http1Transport(),
  "node:http": () => new NodeHttpTransport(),
};

const server = new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", new URL("./noop_server.ts", import.meta.url).pathname, "--port", "0"],
  stdout: "piped",
  stderr: "inherit",
}).spawn();
try {
  const reader = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let printed = "";
  while (!/http:\/\/\S+/.test(printed)) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the no-op server exited");
    printed += value;
  }
  const baseUrl = /http:\/\/\S+/.exec(printed)![0];
  const body = "x".repeat(1024);
  for (let round = 1; round <= rounds; round++) {
    for (const [name, make] of Object.entries(transports)) {
      const client = new CmqdClient({ baseUrl, transport: make() });
      await client.createQueue("transport-cost");
      const lane = async (count: number) => {
        for (let index = 0; index < count; index++) {
          await client.sendMessages("transport-cost", [{ body }]);
        }
      };
      await Promise.all(Array.from({ length: lanes }, () => lane(500 / lanes)));
      const before = process.cpuUsage();
      const started = performance.now();
      await Promise.all(Array.from({ length: lanes }, () => lane(requests / lanes)));
      const cpu = process.cpuUsage(before);
      const wallUs = (performance.now() - started) * 1000 / requests;
      const cpuUs = (cpu.user + cpu.system) / requests;
      console.log(
        `round ${round} ${name.padEnd(9)} client CPU ${cpuUs.toFixed(0).padStart(4)} µs/request, ` +
          `wall ${wallUs.toFixed(0).padStart(4)} µs/request`,
      );
      client.close();
    }
  }
} finally {
  server.kill("SIGTERM");
  await server.status;
}
