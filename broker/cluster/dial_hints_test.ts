/**
 * Member records past the commit index on disk are dialled, never applied, and once the node has
 * applied as far as the last of them, each node they named is dialled as the applied records (or
 * `--peers`) say, or no longer (see `dial_hints.ts`).
 */
import assert from "node:assert/strict";
import type { NodeId } from "../../raft/mod.ts";
import type { PeerAddress } from "../replication/mod.ts";
import { SimFileSystem } from "../../storage/mod.ts";
import { CommandType, encodeJson } from "../engine/mod.ts";
import { DialHints } from "./dial_hints.ts";
import { Membership } from "./member_changes.ts";
import { startOneNode } from "./testing/mod.ts";

const record = (
  index: number,
  fields: Record<string, unknown>,
  type: number = CommandType.SetMember,
) => ({
  term: 1,
  index,
  timestamp: 0,
  type,
  payload: encodeJson(fields),
});

const at = (id: string, port: number) => ({
  id,
  peerAddress: `127.0.0.1:${port}`,
  clientUrl: `http://127.0.0.1:${port + 1}`,
});

/** A transport that keeps what it was told to dial: `id=address`, or `-id` once removed. */
function recordingTransport() {
  const dialled = new Map<string, string>();
  const removed: string[] = [];
  return {
    dialled,
    removed,
    transport: {
      send() {},
      onMessage() {},
      onUnreachable() {},
      setPeer(peer: PeerAddress) {
        dialled.set(peer.id, peer.peerAddress);
      },
      removePeer(id: NodeId) {
        dialled.delete(id);
        removed.push(id);
      },
      clientUrl: () => null,
      close: () => Promise.resolve(),
    },
  };
}

Deno.test("dial hints keep each member's last record past the replay and settle once, when the last is applied", () => {
  const hints = new DialHints();
  hints.read(record(4, at("n4", 9400)));
  hints.read(record(5, { queue: "q" }, CommandType.CreateQueue));
  hints.read(record(6, at("n5", 9500)));
  hints.read(record(7, { id: "n5", remove: true }));
  hints.read(record(8, at("n6", 9600)));
  hints.read(record(9, { id: "n7" })); // malformed: no addresses
  hints.read({ ...record(10, {}), payload: new TextEncoder().encode("not json") });
  assert.deepEqual(hints.members(), [at("n4", 9400), at("n6", 9600)]);
  const settled: string[][] = [];
  hints.onSettled((ids) => settled.push(ids));
  hints.applied({ index: 7 });
  assert.deepEqual(settled, []);
  hints.applied({ index: 8 });
  hints.applied({ index: 9 });
  assert.deepEqual(settled, [["n4", "n5", "n6"]]);
  assert.deepEqual(hints.members(), []);
});

Deno.test("a node dials the members its log records past the commit index, then as the applied records say", async () => {
  const node = await startOneNode(new SimFileSystem());
  const { dialled, removed, transport } = recordingTransport();
  const hints = new DialHints();
  const index = node.replica.status().lastIndex + 1_000; // beyond what the test applies first
  hints.read(record(index - 2, at("n1", 9100))); // itself: never dialled
  hints.read(record(index - 1, at("n2", 9200)));
  hints.read(record(index, at("n3", 9300)));
  try {
    new Membership({
      nodeId: "n1",
      replica: node.replica,
      machine: node.machine,
      transport,
      hints,
      peers: { list: [{ id: "n3", peerAddress: "127.0.0.1:9390" }] },
      clusterInfo: () => assert.fail("no answer is rendered"),
    });
    // The hint wins over --peers until it settles: the log is newer than the flag.
    assert.deepEqual(Object.fromEntries(dialled), { n2: "127.0.0.1:9200", n3: "127.0.0.1:9300" });
    // Nothing of a hint is applied: the machine records no member.
    assert.deepEqual(node.machine.members(), []);
    // n2 is recorded elsewhere (the hint's entry was replaced, not committed).
    await node.replica.propose(CommandType.SetMember, encodeJson(at("n2", 9250)));
    assert.equal(dialled.get("n2"), "127.0.0.1:9250");
    hints.applied({ index });
    assert.deepEqual(Object.fromEntries(dialled), { n2: "127.0.0.1:9250", n3: "127.0.0.1:9390" });
    assert.deepEqual(removed, []);
  } finally {
    await node.close();
  }
});

Deno.test("a hinted node neither recorded nor in --peers once applied is no longer dialled", async () => {
  const node = await startOneNode(new SimFileSystem());
  const { dialled, removed, transport } = recordingTransport();
  const hints = new DialHints();
  hints.read(record(50, at("n4", 9400)));
  try {
    new Membership({
      nodeId: "n1",
      replica: node.replica,
      machine: node.machine,
      transport,
      hints,
      clusterInfo: () => assert.fail("no answer is rendered"),
    });
    assert.equal(dialled.get("n4"), "127.0.0.1:9400");
    hints.applied({ index: 50 });
    assert.deepEqual(removed, ["n4"]);
    assert.equal(dialled.size, 0);
  } finally {
    await node.close();
  }
});

Deno.test("a snapshot loaded settles the hints at or below its index, and the rest stay", () => {
  const hints = new DialHints();
  hints.read(record(4, at("n4", 9400)));
  hints.read(record(6, at("n5", 9500)));
  hints.read(record(7, at("n4", 9450))); // n4's last hint: past the snapshot below
  hints.read(record(9, at("n6", 9600)));
  const settled: string[][] = [];
  hints.onSettled((ids) => settled.push(ids));
  hints.snapshotLoaded({ index: 6 });
  assert.deepEqual(settled, [["n5"]]);
  assert.deepEqual(hints.members(), [at("n4", 9450), at("n6", 9600)]);
  // Was: nothing settled until an entry past the last hint was applied, however long that took.
  hints.snapshotLoaded({ index: 9 });
  assert.deepEqual(settled, [["n5"], ["n4", "n6"]]);
  assert.deepEqual(hints.members(), []);
  hints.applied({ index: 10 });
  hints.snapshotLoaded({ index: 12 });
  assert.deepEqual(settled, [["n5"], ["n4", "n6"]], "settled again");
});
