import assert from "node:assert/strict";
import { emptyArray, emptyMap, ownArray, ownMap } from "./shared_empty.ts";
import { QueueState } from "./queue.ts";
import { resolveCreate } from "./queue_attributes.ts";
import { ByteReader, ByteWriter } from "./binary.ts";

Deno.test("the shared empty containers refuse writes and are swapped for owned ones", () => {
  const map = emptyMap<string, number>();
  assert.throws(() => map.set("a", 1), /never written/);
  assert.equal(map.size, 0);
  const owned = ownMap(map);
  assert.notEqual(owned, map);
  owned.set("a", 1);
  assert.equal(ownMap(owned), owned);
  assert.equal(emptyMap<string, number>().size, 0);

  const array = emptyArray<number>();
  assert.throws(() => array.push(1), TypeError);
  assert.throws(() => array.splice(0, 0), TypeError);
  const mine = ownArray(array);
  mine.push(1);
  assert.equal(ownArray(mine), mine);
  assert.equal(emptyArray<number>().length, 0);
});

function idle(name: string, incarnation: number, fifo = false): QueueState {
  const attributes = resolveCreate({ fifo, deadLetter: undefined });
  return new QueueState({ name, incarnation, salt: 9, attributes, createdAt: 0, modifiedAt: 0 });
}

Deno.test("idle queues that share empty containers never see each other's messages", () => {
  for (const fifo of [false, true]) {
    const busy = idle("busy", 1, fifo);
    const quiet = idle("quiet", 2, fifo);
    const now = 1_000;
    // Every container of `busy`: runs, dedup, tracked (delayed and locked), the release heap,
    // the ready set, foreign ids, deletes.
    busy.send({
      entryIndex: 3,
      now,
      messages: [
        { delaySeconds: 0, bodyBytes: 1, dedupId: "d1", groupId: "g" },
        { delaySeconds: 5, bodyBytes: 1, groupId: "h" },
        { delaySeconds: 0, bodyBytes: 1, groupId: "i" },
      ],
    });
    busy.admit({ logIndex: 4, slot: 0, incarnation: 7, sequence: 70, origin: "other" }, now);
    const [first] = busy.receive({ now, entryIndex: 5, maxMessages: 1, visibilityMs: 10 });
    busy.release(now + 20);
    busy.purge();

    assert.deepEqual(
      [quiet.view(now).activeMessages, quiet.view(now).inflightMessages, quiet.undeletedCount],
      [0, 0, 0],
    );
    assert.equal(quiet.hasReceivable(now + 60_000), false);
    assert.equal(quiet.nextVisibleAt(), null);
    // The same dedup id is new to the quiet queue, and its ids are its own.
    const [sent] = quiet.send({
      entryIndex: 6,
      now,
      messages: [{ delaySeconds: 0, bodyBytes: 1, dedupId: "d1", groupId: "g" }],
    }) as { id: string; sequence: number }[];
    assert.notEqual(sent.id, first.id);
    assert.equal(quiet.idOf(sent.sequence), sent.id);
    assert.equal(quiet.view(now).activeMessages, 1);

    // A snapshot of an idle queue restores to an idle queue that still shares nothing.
    const writer = new ByteWriter();
    idle("fresh", 8, fifo).writeState(writer);
    const restored = QueueState.read(idle("fresh", 8, fifo).meta, new ByteReader(writer.finish()));
    assert.equal(restored.view(now).activeMessages, 0);
    restored.send({ entryIndex: 9, now, messages: [{ delaySeconds: 3, bodyBytes: 1 }] });
    assert.equal(idle("other", 10, fifo).nextVisibleAt(), null);
  }
});
