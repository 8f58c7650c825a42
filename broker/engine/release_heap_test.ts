import assert from "node:assert/strict";
import { ReleaseHeap } from "./release_heap.ts";

/** The reference: every entry in one array, sorted by (time, sequence) when asked. */
class SortedModel {
  entries: Array<[number, number]> = [];
  push(time: number, sequence: number): void {
    this.entries.push([time, sequence]);
    this.entries.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  }
}

/** A small deterministic PRNG (mulberry32), so a failure replays. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("ReleaseHeap takes entries earliest first (time, then sequence) like a sorted list, in order or not", () => {
  for (let seed = 1; seed <= 40; seed++) {
    const random = prng(seed);
    const heap = new ReleaseHeap();
    const model = new SortedModel();
    let now = 0;
    let sequence = 0;
    for (let step = 0; step < 600; step++) {
      const roll = random();
      if (roll < 0.5) {
        // Mostly in order (now + a fixed timeout), sometimes earlier, later or a repeated time.
        const kind = random();
        now += Math.floor(random() * 3);
        const time = kind < 0.7
          ? now + 100
          : kind < 0.85
          ? now + Math.floor(random() * 100)
          : now + 100;
        const seq = kind < 0.9 ? ++sequence : Math.floor(random() * (sequence + 1));
        heap.push(time, seq);
        model.push(time, seq);
      } else if (roll < 0.75 && model.entries.length > 0) {
        const [time, seq] = model.entries.shift()!;
        assert.equal(heap.peekTime(), time, `seed ${seed} step ${step}: peek`);
        assert.equal(heap.pop(), seq, `seed ${seed} step ${step}: pop`);
      } else if (roll < 0.87) {
        const until = now + Math.floor(random() * 150) - 20;
        const limit = 1 + Math.floor(random() * 40);
        const due = model.entries.filter(([time]) => time <= until).length;
        assert.equal(heap.countDue(until, limit), Math.min(limit, due), `seed ${seed}: countDue`);
      } else {
        const until = now + Math.floor(random() * 150);
        const stopAfter = 1 + Math.floor(random() * 30);
        const seen: Array<[number, number]> = [];
        heap.visitUntil(until, (time, seq) => {
          seen.push([time, seq]);
          return seen.length < stopAfter;
        });
        const expected = model.entries.filter(([time]) => time <= until).slice(0, stopAfter);
        assert.deepEqual(seen, expected, `seed ${seed} step ${step}: visitUntil`);
      }
      assert.equal(heap.size, model.entries.length);
      assert.equal(heap.peekTime(), model.entries[0]?.[0] ?? Infinity);
    }
  }
});

Deno.test("ReleaseHeap: an in-order stream far longer than the compaction point drains in order", () => {
  const heap = new ReleaseHeap();
  let expected = 0;
  for (let sequence = 0; sequence < 10_000; sequence++) {
    heap.push(1_000 + sequence, sequence);
    if (sequence % 3 === 2) assert.equal(heap.pop(), expected++);
  }
  heap.push(5, 99_999); // out of order: comes out first
  assert.equal(heap.pop(), 99_999);
  while (heap.size > 0) assert.equal(heap.pop(), expected++);
  assert.equal(expected, 10_000);
  assert.equal(heap.peekTime(), Infinity);
  heap.clear();
  assert.equal(heap.size, 0);
});
