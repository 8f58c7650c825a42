/**
 * A node that runs alone (no `--peers`, `--join` or `--force-new-cluster`: its transport is
 * `noPeers()`) has no peer port: a node it added could never be reached, and the lone node's
 * plain restart would then be refused (its log shows a group with others). It refuses a join up
 * front, through the API, saying how to start a node that takes joins, and changes nothing.
 */
import assert from "node:assert/strict";
import { SimFileSystem } from "../../storage/mod.ts";
import { startOneNode, until } from "./testing/mod.ts";

Deno.test("a lone node refuses a join up front, saying how to start one that takes joins, and records nothing", async () => {
  const node = await startOneNode(new SimFileSystem());
  try {
    const before = node.replica.status();
    const members = node.machine.members();
    let answer: Response | null = null;
    Promise.resolve(node.app.fetch(
      new Request("http://127.0.0.1:1/v1/cluster/nodes", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          id: "n2",
          peerAddress: "127.0.0.1:7002",
          clientUrl: "http://127.0.0.1:7001",
        }),
      }),
    )).then((response) => answer = response);
    // Without the refusal the join goes on: its learner appears, and it waits for it to catch up.
    await until(
      () => answer !== null || node.replica.status().config.learners.length > 0,
      "the join's answer or its learner",
    );
    assert.deepEqual(node.replica.status().config, before.config, "the join changed the config");
    assert.ok(answer !== null);
    const response: Response = answer;
    assert.equal(response.status, 400);
    const { error } = await response.json();
    assert.equal(error.code, "InvalidParameter");
    assert.equal(
      error.message,
      "node 'n1' runs alone (started without --peers, --join or --force-new-cluster): it has " +
        "no peer port, so a node it added could never be reached; to take joins, start it as " +
        "a cluster member, with --peers naming only itself (--peers n1=host:peerPort) and the " +
        "cluster key (--cluster-key-file or CMQD_CLUSTER_KEY)",
    );
    assert.equal(node.replica.status().lastIndex, before.lastIndex, "the join wrote entries");
    assert.deepEqual(node.machine.members(), members);
  } finally {
    await node.close();
  }
});
