import assert from "node:assert/strict";
import fc from "fast-check";
import { ReleaseHeap } from "./release_heap.ts";

/** The reference: every entry in one array, sorted by (time, sequence) when asked. */
class SortedModel {
  entries: Array<[number, number]> = [];
  push(time: number, sequence: number): void {
    this.entries.push([time, sequence]);
    this.entries.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  }
}

/** One step of the property: a push (mostly in order), a pop, a count or a walk. */
type Step =
  | { op: "push"; advance: number; order: "timeout" | "earlier" | "oldSequence"; pick: number }
  | { op: "pop" }
  | { op: "countDue"; offset: number; limit: number }
  | { op: "visit"; offset: number; stopAfter: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("push" as const),
      advance: fc.integer({ min: 0, max: 2 }),
      order: fc.constantFrom(
        "timeout" as const,
        "timeout" as const,
        "earlier" as const,
        "oldSequence" as const,
      ),
      pick: fc.nat({ max: 1_000 }),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ op: "pop" as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("countDue" as const),
      offset: fc.integer({ min: -20, max: 130 }),
      limit: fc.integer({ min: 1, max: 40 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("visit" as const),
      offset: fc.integer({ min: 0, max: 150 }),
      stopAfter: fc.integer({ min: 1, max: 30 }),
    }),
  },
);

Deno.test("ReleaseHeap takes entries earliest first (time, then sequence) like a sorted list, in order or not", () => {
  fc.assert(
    fc.property(fc.array(step, { maxLength: 400 }), (steps) => {
      const heap = new ReleaseHeap();
      const model = new SortedModel();
      let now = 0;
      let sequence = 0;
      for (const next of steps) {
        if (next.op === "push") {
          // Mostly now + a fixed timeout with a new sequence (in order); sometimes an earlier
          // time, or an older sequence at the timeout (out of order, or a repeated pair).
          now += next.advance;
          const time = next.order === "earlier" ? now + (next.pick % 100) : now + 100;
          const seq = next.order === "oldSequence" ? next.pick % (sequence + 1) : ++sequence;
          heap.push(time, seq);
          model.push(time, seq);
        } else if (next.op === "pop") {
          if (model.entries.length === 0) continue;
          const [time, seq] = model.entries.shift()!;
          assert.equal(heap.peekTime(), time);
          assert.equal(heap.peekSequence(), seq);
          assert.equal(heap.pop(), seq);
        } else if (next.op === "countDue") {
          const until = now + next.offset;
          const due = model.entries.filter(([time]) => time <= until).length;
          assert.equal(heap.countDue(until, next.limit), Math.min(next.limit, due));
        } else {
          const until = now + next.offset;
          const seen: Array<[number, number]> = [];
          heap.visitUntil(until, (time, seq) => {
            seen.push([time, seq]);
            return seen.length < next.stopAfter;
          });
          const expected = model.entries.filter(([time]) => time <= until).slice(0, next.stopAfter);
          assert.deepEqual(seen, expected);
        }
        assert.equal(heap.size, model.entries.length);
        assert.equal(heap.peekTime(), model.entries[0]?.[0] ?? Infinity);
      }
    }),
    { numRuns: 300 },
  );
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
