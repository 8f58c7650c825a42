/**
 * A voter's disk replaced, on real processes: restarted with its usual `--peers` command on an
 * empty data directory, it says it lost its log, shows `canVote: false` in `GET /v1/cluster` and
 * votes again once repaired, and no message is lost; a joined voter restarted with `--join` on an
 * empty data directory is refused with the precise message, and the group keeps working.
 */
import assert from "node:assert/strict";
import { CmqdClient } from "../../sdk/mod.ts";
import { type BrokerProcess, clusterPorts, eventually, freePort, startBroker } from "./process.ts";

Deno.test({
  name: "a voter restarted on a replaced disk is repaired before it votes; a joined one is refused",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "cmqd-replaced-" });
    const { specs, peers } = clusterPorts(["n1", "n2", "n3"]);
    const n4 = { id: "n4", port: freePort(), peerPort: freePort() };
    const all = [...specs, n4];
    const spec = (id: string) => all.find((entry) => entry.id === id)!;
    const processes = new Map<string, BrokerProcess>();
    const clientOf = (id: string) =>
      new CmqdClient({ baseUrl: `http://127.0.0.1:${spec(id).port}`, timeoutMs: 5000 });
    const start = async (id: string, extra: string[]) => {
      processes.set(
        id,
        await startBroker({
          dataDir: `${root}/${id}`,
          port: spec(id).port,
          args: ["--node-id", id, "--peer-port", String(spec(id).peerPort), ...extra],
        }),
      );
    };
    const wipe = async (id: string) => {
      await processes.get(id)!.kill();
      await Deno.remove(`${root}/${id}`, { recursive: true });
    };
    try {
      await Promise.all(["n1", "n2", "n3"].map((id) => start(id, ["--peers", peers])));
      const n1 = clientOf("n1");
      const leader = await eventually(
        "a leader",
        async () => (await n1.cluster()).leaderId ?? undefined,
      );
      const leaderClient = clientOf(leader);
      await leaderClient.createQueue("q", {});
      await leaderClient.sendMessages("q", [{ body: "one" }, { body: "two" }]);

      const [wiped] = ["n1", "n2", "n3"].filter((id) => id !== leader);
      await wipe(wiped);
      await leaderClient.sendMessages("q", [{ body: "three" }]);
      await start(wiped, ["--peers", peers]);
      const output = () => processes.get(wiped)!.output();
      await eventually(
        "the loss noticed",
        () => Promise.resolve(output().includes("LOG LOST") || undefined),
      );
      assert.match(output(), /started on an empty data directory/);
      await eventually("voting again", async () => {
        const info = await clientOf(wiped).cluster();
        return info.canVote === true && info.leaderId !== null ? info : undefined;
      });
      assert.match(output(), /voting again/);
      const now = (await clientOf(wiped).cluster()).leaderId!;
      const received = await clientOf(now).receiveMessages("q", { maxMessages: 10 });
      assert.deepEqual(received.messages.map((message) => message.body).sort(), [
        "one",
        "three",
        "two",
      ]);

      // A joined voter whose disk is replaced, restarted with --join: refused, exits.
      const join = ["--join", `http://127.0.0.1:${spec(now).port}`];
      await start("n4", join);
      await eventually("n4 a voter", async () => {
        const info = await clientOf(now).cluster();
        return info.nodes.find((node) => node.id === "n4" && node.role !== "learner");
      });
      await wipe("n4");
      const refused = await start("n4", join).then(() => "started", (error) => String(error));
      assert.match(
        refused,
        /n4 is a voter of this cluster with its data; a node with an empty data directory can't take its place: remove it first \(DELETE \/v1\/cluster\/nodes\/n4\), then join/,
      );
    } finally {
      for (const process of processes.values()) await process.kill();
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  },
});
