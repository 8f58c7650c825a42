/**
 * Where followers send their clients' requests (and secrets): three nodes in one process over
 * real sockets, one of them recorded in the replicated membership at a client URL it does not
 * serve — the record a join made with another URL than the node's own, or one left behind when
 * a member was restarted on another client port — while it announces its own one to every peer,
 * proved with the cluster key. Once it leads, a follower forwards to the URL the node announced,
 * never to the recorded one (another host or process may listen there), names that one in
 * `x-cmqd-leader`, and warns once that the record differs.
 */
import assert from "node:assert/strict";
import { CommandType } from "../../broker/testing.ts";
import { freePort } from "./process.ts";
import { startInProcessCluster, until } from "./_in_process_cluster.ts";

const json = (value: object) => new TextEncoder().encode(JSON.stringify(value));
const bearer = "Bearer AKIDapp:app-secret";

Deno.test({
  name: "a follower forwards to the client URL its leader announced, not to another one recorded",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    // Whatever listens at the recorded URL: it must never see a client's request.
    const stray: { path: string; authorization: string | null }[] = [];
    const strayPort = freePort();
    const strayServer = Deno.serve(
      { hostname: "127.0.0.1", port: strayPort, onListen: () => {} },
      (request) => {
        const { pathname } = new URL(request.url);
        stray.push({ path: pathname, authorization: request.headers.get("authorization") });
        return new Response("not a cmqd node", { status: 200 });
      },
    );
    const strayUrl = `http://127.0.0.1:${strayPort}`;
    const cluster = await startInProcessCluster("cmqd-member-url-", {
      secretId: "AKIDapp",
      secretKey: "app-secret",
    });
    const { nodes, urls, peerPorts, warnings } = cluster;
    try {
      await until("a leader", () => nodes.some((node) => node.replica.isLeader));
      const leader = nodes.find((node) => node.replica.isLeader)!;
      // The member to be recorded elsewhere, and the follower the client asks.
      const target = nodes.findIndex((node) => node !== leader);
      const asked = nodes.findIndex((_, i) => i !== target && nodes[i] !== leader);
      const record = {
        id: nodes[target].replica.id,
        peerAddress: `127.0.0.1:${peerPorts[target]}`,
        clientUrl: strayUrl,
      };
      await leader.replica.propose(CommandType.SetMember, json(record));
      await until(
        "every node to apply the record",
        () =>
          nodes.every((node) =>
            node.machine.members().some((member) => member.clientUrl === strayUrl)
          ),
      );
      leader.replica.transferLeadership(nodes[target].replica.id);
      await until(
        "the target to lead, and the asked follower to know it",
        () =>
          nodes[target].replica.isLeader &&
          nodes[asked].replica.leaderId === nodes[target].replica.id,
      );
      for (let i = 0; i < 2; i++) {
        const response = await fetch(`${urls[asked]}/v1/queues`, {
          headers: { authorization: bearer },
        });
        const text = await response.text();
        assert.equal(response.status, 200, text);
        assert.doesNotMatch(text, /not a cmqd node/);
        assert.equal(response.headers.get("x-cmqd-leader"), urls[target]);
      }
      assert.deepEqual(stray, [], "a client's request went to the recorded URL");
      const cluster = await (await fetch(`${urls[asked]}/v1/cluster`, {
        headers: { authorization: bearer },
      })).json();
      const shown = cluster.nodes.find((node: { id: string }) => node.id === record.id);
      assert.equal(shown.url, urls[target]);
      const said = warnings[asked].filter((line) => line.includes(strayUrl));
      assert.equal(said.length, 1, said.join("\n"));
      assert.ok(said[0].includes(urls[target]) && said[0].includes(record.id), said[0]);
    } finally {
      await cluster.close();
      await strayServer.shutdown();
    }
  },
});
