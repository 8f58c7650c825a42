/**
 * At start the core rebuilds the membership from the config entries of the stored log; a storage
 * that can stream its entries (`visitEntries`) is read through that, never paged through copies.
 */
import assert from "node:assert/strict";
import { encodeConfigChange } from "./membership.ts";
import { type Entry, EntryType, type LogIndex, nodeId, type Term } from "./types.ts";
import { MemoryLogStorage } from "./log_storage.ts";
import { RaftNode } from "./node.ts";
import { createPrng } from "./prng.ts";

const [a, b] = [nodeId("a"), nodeId("b")];

/** A stored log of normal entries with one config change (add learner b) in the middle. */
function storedLog(): Entry[] {
  return Array.from({ length: 6 }, (_, offset) => {
    const index = (offset + 1) as LogIndex;
    return index === 3
      ? {
        term: 1 as Term,
        index,
        type: EntryType.ConfigChange,
        data: encodeConfigChange({ type: "addLearner", nodeId: b }),
      }
      : { term: 1 as Term, index, type: EntryType.ApplicationMin, data: new Uint8Array(100) };
  });
}

class StreamingStorage extends MemoryLogStorage {
  visited = 0;
  pagedReads = 0;

  override entries(from: LogIndex, toExclusive: LogIndex, bytesMax: number): Entry[] {
    this.pagedReads++;
    return super.entries(from, toExclusive, bytesMax);
  }

  visitEntries(from: LogIndex, toExclusive: LogIndex, visit: (entry: Entry) => void): void {
    for (const entry of super.entries(from, toExclusive, Infinity)) {
      this.visited++;
      // What a streaming storage hands out is only valid during the call: scribble on it after.
      const data = entry.data.slice();
      visit({ ...entry, data });
      data.fill(0xff);
    }
  }
}

Deno.test("the membership is rebuilt from a streamed log, without paged reads", () => {
  const storage = new StreamingStorage({ config: { voters: [a], learners: [] } });
  storage.append(storedLog());
  const node = new RaftNode({ id: a, storage, prng: createPrng(1) });
  assert.equal(storage.visited, 6);
  assert.equal(storage.pagedReads, 0);
  assert.deepEqual(node.status().config, { voters: [a], learners: [b] });
});

Deno.test("a storage without visitEntries is paged through entries as before", () => {
  const storage = new MemoryLogStorage({ config: { voters: [a], learners: [] } });
  storage.append(storedLog());
  const node = new RaftNode({ id: a, storage, prng: createPrng(1) });
  assert.deepEqual(node.status().config, { voters: [a], learners: [b] });
});
