/**
 * A voter's disk replaced, on real processes: restarted with its usual `--peers` command on an
 * empty data directory, it says it lost its log, shows `canVote: false` in `GET /v1/cluster` and
 * votes again once repaired, and no message is lost; a joined voter restarted with `--join` on an
 * empty data directory is refused with the precise message, and the group keeps working.
 */
import assert from "node:assert/strict";
import { CmqdClient } from "../../sdk/mod.ts";
import { eventually } from "./process.ts";
import { withCluster } from "./_cluster_start.ts";

Deno.test({
  name: "a voter restarted on a replaced disk is repaired before it votes; a joined one is refused",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const options = { voters: ["n1", "n2", "n3"], others: ["n4"] };
    await withCluster("cmqd-replaced-", options, async (cluster) => {
      const { root, processes, url } = cluster;
      const clientOf = (id: string) => new CmqdClient({ baseUrl: url(id), timeoutMs: 5000 });
      const wipe = async (id: string) => {
        await processes.get(id)!.kill();
        await Deno.remove(`${root}/${id}`, { recursive: true });
      };
      await cluster.startVoters("together");
      const leader = await cluster.leaderVia("n1");
      const leaderClient = clientOf(leader);
      await leaderClient.createQueue("q", {});
      await leaderClient.sendMessages("q", [{ body: "one" }, { body: "two" }]);

      const [wiped] = ["n1", "n2", "n3"].filter((id) => id !== leader);
      await wipe(wiped);
      await leaderClient.sendMessages("q", [{ body: "three" }]);
      await cluster.startVoter(wiped);
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
      const join = ["--join", url(now)];
      await cluster.start("n4", join);
      await eventually("n4 a voter", async () => {
        const info = await clientOf(now).cluster();
        return info.nodes.find((node) => node.id === "n4" && node.role !== "learner");
      });
      await wipe("n4");
      const refused = await cluster.start("n4", join).then(
        () => "started",
        (error) => String(error),
      );
      assert.match(
        refused,
        /n4 is a voter of this cluster with its data; a node with an empty data directory can't take its place: remove it first \(DELETE \/v1\/cluster\/nodes\/n4\), then join/,
      );
    });
  },
});
