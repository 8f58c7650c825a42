/**
 * What the transport lets through, Raft must take without throwing: a message that passes
 * `messageProblem` (and comes from its authenticated sender, to this node) is stepped into a
 * leader or a follower of a small group, and the Readies it causes are written, without an
 * exception. An exception there stops the replica (`RaftReplica` fails on it), so a key holder
 * that is merely buggy or old could stop a node with one message. (An append that would
 * overwrite committed entries is answered with the commit index before its entries are looked
 * at, so the follower's assertion against that is never reached from here.)
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type Entry,
  type LogIndex,
  type Message,
  MessageType,
  type NodeId,
  nodeId,
  type RaftNode,
  type Term,
} from "../../raft/mod.ts";
import { SimCluster } from "../../raft/testing/mod.ts";
import { messageLimitsDefault, messageProblem } from "./message_validation.ts";

/** n1 leads n1..n3 at term 2 or so, with a few committed entries, everything delivered. */
function group(): SimCluster {
  const cluster = new SimCluster({ ids: ["n1", "n2", "n3"], seed: 5 });
  cluster.electLeader("n1");
  for (const text of ["a", "b", "c"]) cluster.propose("n1", text);
  cluster.stabilize();
  return cluster;
}

/** Steps `message` into `id` alone and writes its Readies (what it sends goes nowhere). */
function stepAlone(cluster: SimCluster, id: NodeId, message: Message): void {
  const node = cluster.node(id);
  const raft: RaftNode = cluster.raft(id);
  raft.step(message);
  while (raft.hasReady()) {
    const ready = raft.ready();
    const data = ready.snapshot === undefined ? undefined : node.sink.take(ready.snapshot.index);
    node.storage.saveReady(ready, data);
    raft.advance(ready);
  }
}

const small = (max: number) => fc.nat({ max });
const messageTypes = Object.values(MessageType) as MessageType[];

/** Messages near the group's state (terms and indexes a few steps around it), many malformed. */
function messageArbitrary(to: NodeId): fc.Arbitrary<Message> {
  return fc.record({
    type: fc.constantFrom(...messageTypes),
    from: fc.constantFrom("n1", "n2", "n3", "n9").filter((id) => id !== to).map(nodeId),
    term: small(6),
    logTerm: small(6),
    index: small(12),
    commit: small(14),
    reject: fc.boolean(),
    rejectHint: small(14),
    context: fc.constantFrom("", "x", "1", "h:1:2", "lost"),
    entryTerms: fc.array(small(6), { maxLength: 4 }),
    entryTypes: fc.array(fc.constantFrom(0, 1, 16, 200), { minLength: 4, maxLength: 4 }),
    timestamps: fc.array(fc.option(small(1000), { nil: undefined }), {
      minLength: 4,
      maxLength: 4,
    }),
    chunk: fc.record({
      index: small(12),
      term: small(6),
      voters: fc.subarray(["n1", "n2", "n3", "n9"], { minLength: 1 }),
      learners: fc.subarray(["n4"]),
      offset: small(8),
      length: small(8),
      extra: small(8),
    }),
  }).map((fields): Message => {
    // Mostly within the shapes the transport accepts (terms ordered, entries on appends only),
    // so that most messages reach Raft; the rest is refused before it.
    const logTerm = Math.min(fields.logTerm, fields.term);
    const entryTerms = fields.type === MessageType.App || fields.entryTerms.length === 4
      ? fields.entryTerms.map((term) => Math.min(Math.max(term, logTerm, 1), fields.term))
        .sort((x, y) => x - y)
      : [];
    const entries: Entry[] = entryTerms.map((term, i) => {
      const entry: Entry = {
        term: term as Term,
        index: (fields.index + 1 + i) as LogIndex,
        type: fields.entryTypes[i],
        data: new Uint8Array(i),
      };
      const timestamp = fields.timestamps[i];
      if (timestamp !== undefined) entry.timestamp = timestamp;
      return entry;
    });
    const message: Message = {
      type: fields.type,
      from: fields.from,
      to,
      term: fields.term as Term,
      logTerm: logTerm as Term,
      index: fields.index as LogIndex,
      entries,
      commit: fields.commit as LogIndex,
      reject: fields.reject,
      rejectHint: fields.rejectHint as LogIndex,
      context: fields.context,
    };
    if (fields.type === MessageType.Snap) {
      const { chunk } = fields;
      message.snapshot = {
        index: Math.max(1, chunk.index) as LogIndex,
        term: Math.max(1, Math.min(chunk.term, fields.term)) as Term,
        config: { voters: chunk.voters.map(nodeId), learners: chunk.learners.map(nodeId) },
        offset: chunk.offset,
        totalBytes: chunk.offset + chunk.length + chunk.extra,
        data: new Uint8Array(chunk.length),
      };
    }
    return message;
  });
}

for (const [role, id] of [["leader", "n1"], ["follower", "n2"]] as const) {
  Deno.test(`messages the transport lets through never make a ${role}'s Raft throw`, () => {
    const to = nodeId(id);
    let stepped = 0;
    fc.assert(
      fc.property(fc.array(messageArbitrary(to), { minLength: 1, maxLength: 6 }), (messages) => {
        const cluster = group();
        for (const message of messages) {
          if (messageProblem(message, messageLimitsDefault) !== null) continue;
          stepped++;
          stepAlone(cluster, to, message);
        }
      }),
      { numRuns: 400, seed: 875_421 },
    );
    assert.ok(stepped > 200, `only ${stepped} messages passed the transport's checks`);
  });
}
