import assert from "node:assert/strict";
import {
  type Entry,
  type LogIndex,
  type Message,
  MessageType,
  nodeId,
  type SnapshotChunk,
  type Term,
} from "../../raft/mod.ts";
import { messageLimitsDefault, messageProblem } from "./message_validation.ts";

const limits = messageLimitsDefault;

function append(overrides: Partial<Message> = {}): Message {
  return {
    type: MessageType.App,
    from: nodeId("n1"),
    to: nodeId("n2"),
    term: 5 as Term,
    logTerm: 4 as Term,
    index: 10 as LogIndex,
    entries: [entry(11, 4), entry(12, 5)],
    commit: 9 as LogIndex,
    reject: false,
    rejectHint: 0 as LogIndex,
    context: "",
    ...overrides,
  };
}

function entry(index: number, term: number, overrides: Partial<Entry> = {}): Entry {
  return {
    term: term as Term,
    index: index as LogIndex,
    type: 16,
    data: new Uint8Array(3),
    timestamp: 1_700_000_000_000,
    ...overrides,
  };
}

function chunk(overrides: Partial<SnapshotChunk> = {}): SnapshotChunk {
  return {
    index: 100 as LogIndex,
    term: 4 as Term,
    config: { voters: [nodeId("n1"), nodeId("n2"), nodeId("n3")], learners: [] },
    offset: 0,
    totalBytes: 10,
    data: new Uint8Array(10),
    ...overrides,
  };
}

function snap(overrides: Partial<SnapshotChunk> = {}): Message {
  return append({ type: MessageType.Snap, entries: [], snapshot: chunk(overrides) });
}

Deno.test("messages Raft sends pass", () => {
  const good: Message[] = [
    append(),
    append({ entries: [] }),
    append({
      entries: [entry(11, 4, { type: 0 }), entry(12, 5, { type: 1, timestamp: undefined })],
    }),
    append({ type: MessageType.Heartbeat, entries: [], context: "n1:17" }),
    append({ type: MessageType.PreVote, entries: [], term: 6 as Term, context: "transfer" }),
    append({ type: MessageType.AppResp, entries: [], reject: true, rejectHint: 3 as LogIndex }),
    append({ type: MessageType.VoteResp, entries: [], term: 0 as Term, logTerm: 0 as Term }),
    snap(),
    snap({ offset: 5, data: new Uint8Array(5), totalBytes: 10 }),
    append({ term: limits.termMax as Term, entries: [], index: limits.indexMax as LogIndex }),
  ];
  for (const message of good) assert.equal(messageProblem(message, limits), null);
  for (const type of Object.values(MessageType)) {
    const message = type === MessageType.Snap ? snap() : append({ type, entries: [] });
    assert.equal(messageProblem(message, limits), null, `type ${type}`);
  }
});

Deno.test("each impossible field is named", async (t) => {
  const cases: Record<string, [Message, RegExp]> = {
    "an unknown type": [append({ type: 0 as MessageType }), /unknown message type 0/],
    "a type beyond the last": [append({ type: 16 as MessageType }), /unknown message type 16/],
    "an empty from": [append({ from: "" as never }), /from is not a node id/],
    "an overlong to": [append({ to: "x".repeat(256) as never }), /to is not a node id/],
    "a message to itself": [append({ to: nodeId("n1") }), /from a node to itself/],
    "a term of 2^53 − 1": [
      append({ term: Number.MAX_SAFE_INTEGER as Term }),
      /term 9007199254740991/,
    ],
    "a term above termMax": [
      append({ term: (limits.termMax + 1) as Term }),
      /term .* is not an integer/,
    ],
    "a negative term": [append({ term: -1 as Term }), /term -1/],
    "a fractional term": [append({ term: 1.5 as Term }), /term 1.5/],
    "a NaN logTerm": [append({ logTerm: NaN as Term }), /logTerm NaN/],
    "a logTerm above the term": [
      append({ logTerm: 6 as Term }),
      /logTerm 6 above the message's term 5/,
    ],
    "an index beyond indexMax": [append({ index: (limits.indexMax + 1) as LogIndex }), /index/],
    "an infinite commit": [append({ commit: Infinity as LogIndex }), /commit Infinity/],
    "a negative rejectHint": [append({ rejectHint: -2 as LogIndex }), /rejectHint -2/],
    "an overlong context": [append({ context: "c".repeat(1025) }), /context longer than 1024/],
    "a non-boolean reject": [append({ reject: 1 as never }), /reject is not a boolean/],
    "entries on a heartbeat": [
      append({ type: MessageType.Heartbeat }),
      /Heartbeat carrying entries/,
    ],
    "an entry term above the message's": [append({ entries: [entry(11, 6)] }), /entry 0 term 6/],
    "an entry term of 0": [append({ entries: [entry(11, 0)] }), /entry 0 term 0/],
    "entry terms going down": [append({ entries: [entry(11, 5), entry(12, 4)] }), /entry 1 term 4/],
    "an entry term below logTerm": [
      append({ entries: [entry(11, 3), entry(12, 4)] }),
      /entry 0 term 3 is not in \[4, 5\]/,
    ],
    "an entry index gap": [
      append({ entries: [entry(11, 4), entry(13, 4)] }),
      /entry 1 has index 13, expected 12/,
    ],
    "an entry not after index": [
      append({ entries: [entry(10, 4)] }),
      /entry 0 has index 10, expected 11/,
    ],
    "an unknown entry type": [
      append({ entries: [entry(11, 4, { type: 7 })] }),
      /entry 0 has unknown type 7/,
    ],
    "a NaN timestamp": [append({ entries: [entry(11, 4, { timestamp: NaN })] }), /timestamp NaN/],
    "an infinite timestamp": [
      append({ entries: [entry(11, 4, { timestamp: Infinity })] }),
      /timestamp Infinity/,
    ],
    "a negative timestamp": [
      append({ entries: [entry(11, 4, { timestamp: -1 })] }),
      /timestamp -1/,
    ],
    "entry data that is not bytes": [
      append({ entries: [entry(11, 4, { data: "x" as never })] }),
      /data is not bytes/,
    ],
    "a chunk on an append": [append({ snapshot: chunk() }), /App carrying a snapshot chunk/],
    "a Snap without a chunk": [
      append({ type: MessageType.Snap, entries: [] }),
      /without a snapshot chunk/,
    ],
    "a snapshot term above the message's": [snap({ term: 6 as Term }), /snapshot term 6/],
    "a snapshot at index 0": [snap({ index: 0 as LogIndex }), /index or term 0/],
    "a snapshot over snapshotBytesMax": [
      snap({ totalBytes: limits.snapshotBytesMax + 1 }),
      /snapshot totalBytes/,
    ],
    "a chunk over snapshotChunkBytesMax": [
      snap({
        data: new Uint8Array(limits.snapshotChunkBytesMax + 1),
        totalBytes: limits.snapshotChunkBytesMax + 1,
      }),
      /a snapshot chunk of 16777217 bytes/,
    ],
    "a chunk beyond its total": [snap({ offset: 5, totalBytes: 12 }), /beyond its total 12/],
    "a snapshot without voters": [snap({ config: { voters: [], learners: [] } }), /without voters/],
    "a snapshot member twice": [
      snap({ config: { voters: [nodeId("n1")], learners: [nodeId("n1")] } }),
      /member n1 listed twice/,
    ],
    "a snapshot with too many members": [
      snap({
        config: { voters: Array.from({ length: 1025 }, (_, i) => nodeId(`n${i}`)), learners: [] },
      }),
      /more than 1024 members/,
    ],
  };
  for (const [name, [message, expected]] of Object.entries(cases)) {
    await t.step(name, () => {
      const problem = messageProblem(message, limits);
      assert.ok(problem !== null, "refused");
      assert.match(problem, expected);
    });
  }
});

Deno.test("the limits are parameters", () => {
  const tight = { ...limits, termMax: 10, entriesPerMessageMax: 1 };
  assert.match(messageProblem(append({ term: 11 as Term }), tight)!, /term 11/);
  assert.match(messageProblem(append(), tight)!, /2 entries \(at most 1\)/);
  assert.equal(messageProblem(append({ entries: [entry(11, 4)] }), tight), null);
});
