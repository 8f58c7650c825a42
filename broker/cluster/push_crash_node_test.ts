/**
 * HTTP push across a crash of a one-node group (README, "Topics", "Retries": "the pending set,
 * attempt counts and next attempt times are replicated state, so a new leader (or a restarted
 * node) continues exactly where the old one stopped"): a power cut while one push is in flight
 * and another's failure is recorded. The restarted node pushes both: the one in flight again under
 * the same request id (the same attempt), the failed one as its retry (the next attempt).
 */
import assert from "node:assert/strict";
import type { Timers } from "../replication/mod.ts";
import { SimFileSystem } from "../../storage/mod.ts";
import { type NodeOptions, noPeers, startNode } from "./node.ts";
import { realClock, realTimers } from "./real_time.ts";
import type { PushFetch } from "../push/mod.ts";
import { stoppableTimers, until } from "./testing/mod.ts";

function options(fs: SimFileSystem, timers: Timers, pushFetch: PushFetch): NodeOptions {
  return {
    nodeId: "n1",
    dataDir: "/d",
    fs,
    clock: realClock,
    timers,
    transport: noPeers(),
    initialVoters: ["n1"],
    url: "http://127.0.0.1:1",
    tickMs: 5,
    pushFetch,
  };
}

async function leading(nodeOptions: NodeOptions) {
  const node = await startNode(nodeOptions);
  await until(() => node.replica.isLeader, "leadership");
  return node;
}

interface Request {
  body: string;
  requestId: string;
}

Deno.test("a push in flight at a power cut is sent again under its request id; a recorded failure keeps its attempt count", async () => {
  const fs = new SimFileSystem();
  const timers = stoppableTimers();
  const before: Request[] = [];
  // The crashed process: "fails" is answered 500, "hangs" never.
  const crashedFetch: PushFetch = (_url, init) => {
    const body = (JSON.parse(init.body) as { msgBody: string }).msgBody;
    before.push({ body, requestId: init.headers["x-cmq-request-id"] });
    return body === "fails" ? Promise.resolve({ status: 500 }) : new Promise(() => {});
  };
  // Its own view of the disk: nothing the crashed node left running can touch it afterwards.
  const first = await leading(options(fs.session(), timers, crashedFetch));
  await first.topics.createTopic("payments", {});
  await first.topics.subscribe("payments", "merchant", {
    endpoint: { url: "http://merchant.test/notify" },
  });
  await first.topics.publish("payments", [{ body: "fails" }, { body: "hangs" }]);
  const firstView = () => first.machine.topics.getSubscription("payments", "merchant")!;
  // Applied on a one-voter group: committed, so on disk.
  await until(() => (firstView().lastError ?? null) !== null, "the recorded failure");
  await until(() => before.some((request) => request.body === "hangs"), "the push in flight");
  assert.equal(firstView().pendingMessages, 2);
  fs.crash(); // power cut: nothing unsynced survives
  timers.stop(); // and the process is gone: no retry, no tick, never closed

  const after: Request[] = [];
  const restartedFetch: PushFetch = (_url, init) => {
    const body = (JSON.parse(init.body) as { msgBody: string }).msgBody;
    after.push({ body, requestId: init.headers["x-cmq-request-id"] });
    return Promise.resolve({ status: 204 });
  };
  const second = await leading(options(fs, realTimers, restartedFetch));
  try {
    const view = () => second.machine.topics.getSubscription("payments", "merchant")!;
    await until(() => view().pendingMessages === 0, "both pushes after the restart");
    assert.equal(view().deliveredMessages, 2);
    assert.equal(view().failedMessages, 0, "nothing dropped");
    assert.equal(view().lastError?.message, "HTTP 500", "the failure before the cut is kept");
    const idOf = (list: Request[], body: string) =>
      list.filter((request) => request.body === body).map((request) => request.requestId);
    const [hungId] = idOf(before, "hangs");
    const [failedId] = idOf(before, "fails");
    assert.match(hungId, /-0$/);
    assert.match(failedId, /-0$/);
    assert.deepEqual(idOf(after, "hangs"), [hungId], "the attempt in flight, made again");
    assert.deepEqual(
      idOf(after, "fails"),
      [failedId.replace(/-0$/, "-1")],
      "the retry of the recorded failure: the next attempt",
    );
  } finally {
    await second.close();
  }
});
