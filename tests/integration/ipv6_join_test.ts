/**
 * A cluster on IPv6 addresses: a node started with `--host ::1` joins a member through
 * `--join http://[::1]:port`. Its peer address must reach the member as `[::1]:port`, the form
 * the join (and `--peers`) accept; it went as `::1:port` and the join was refused (exit 2,
 * `peerAddress: must be host:port`).
 */
import assert from "node:assert/strict";
import { type BrokerProcess, clusterPorts, eventually, freePort, startBroker } from "./process.ts";

/** Whether this machine can listen on the IPv6 loopback (a container may have none). */
function ipv6Loopback(): boolean {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
}

Deno.test({
  name: "a node on an IPv6 address joins a member with --join",
  ignore: !ipv6Loopback(),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const temp = await Deno.makeTempDir({ prefix: "cmqd-ipv6-join-" });
    const { specs } = clusterPorts(["n1"]);
    const processes: BrokerProcess[] = [];
    try {
      processes.push(
        await startBroker({
          dataDir: `${temp}/n1`,
          port: specs[0].port,
          host: "::1",
          args: [
            "--node-id",
            "n1",
            "--peer-port",
            String(specs[0].peerPort),
            "--peers",
            `n1=[::1]:${specs[0].peerPort}`,
          ],
        }),
      );
      const member = processes[0];
      await eventually("n1 leads", async () => {
        const info = await (await fetch(`${member.url}/v1/cluster`)).json();
        return info.leaderId === "n1" || undefined;
      });
      const joinerPeerPort = freePort();
      processes.push(
        await startBroker({
          dataDir: `${temp}/n2`,
          host: "::1",
          args: [
            "--node-id",
            "n2",
            "--peer-port",
            String(joinerPeerPort),
            "--join",
            member.url,
          ],
        }),
      );
      assert.equal(member.url, `http://[::1]:${specs[0].port}`);
      const view = await (await fetch(`${member.url}/v1/cluster`)).json() as {
        nodes: { id: string; url: string | null }[];
      };
      const joined = view.nodes.find((node) => node.id === "n2");
      assert.ok(joined !== undefined, JSON.stringify(view));
      assert.equal(joined.url, processes[1].url);
    } finally {
      for (const process of processes) await process.kill();
      await Deno.remove(temp, { recursive: true });
    }
  },
});
