import assert from "node:assert/strict";
import fc from "fast-check";
import { HeldDue, type HeldGroupsView } from "./held_due.ts";

/** Groups by key: held or not, and their message in flight (0: none) with its lock end. */
class Groups implements HeldGroupsView {
  groups = new Map<string, { held: boolean; inflight: number; lockEnd: number }>();

  heldInflight(key: string): number {
    const group = this.groups.get(key);
    return group?.held ? group.inflight : -1;
  }
  lockEnd(sequence: number): number {
    return [...this.groups.values()].find((group) => group.inflight === sequence)!.lockEnd;
  }
  isHeldLock(sequence: number, time: number): boolean {
    return [...this.groups.values()].some((group) =>
      group.held && group.inflight === sequence && group.lockEnd === time
    );
  }
  heldKeys(): string[] {
    return [...this.groups].filter(([, group]) => group.held).map(([key]) => key);
  }
  heldCount(): number {
    return this.heldKeys().length;
  }
  /** The answer of a walk over every held group. */
  walk(): number {
    let due = Infinity;
    for (const group of this.groups.values()) {
      if (!group.held) continue;
      due = Math.min(due, group.inflight === 0 ? -Infinity : group.lockEnd);
    }
    return due;
  }
}

const keys = ["a", "b", "c", "d", "e"];
const stepArb = fc.oneof(
  fc.record({ op: fc.constant("hold" as const), key: fc.constantFrom(...keys) }),
  fc.record({ op: fc.constant("release" as const), key: fc.constantFrom(...keys) }),
  fc.record({
    op: fc.constant("lock" as const),
    key: fc.constantFrom(...keys),
    // Mostly earlier and earlier locks: the entries they leave stale stay below the top.
    time: fc.oneof(fc.integer({ min: 0, max: 1_000 }), fc.constant(-1)),
  }),
  fc.record({ op: fc.constant("unlock" as const), key: fc.constantFrom(...keys) }),
  fc.record({ op: fc.constant("reset" as const) }),
  fc.record({ op: fc.constant("ask" as const) }),
);

Deno.test("HeldDue answers as a walk over the held groups, whatever changed since", () => {
  fc.assert(
    fc.property(fc.array(stepArb, { maxLength: 600 }), (steps) => {
      const groups = new Groups();
      const due = new HeldDue();
      let sequence = 0;
      let earliest = 10_000;
      for (const step of steps) {
        if (step.op === "ask") {
          assert.equal(due.dueAt(groups), groups.walk());
          continue;
        }
        if (step.op === "reset") {
          due.reset();
          continue;
        }
        const group = groups.groups.get(step.key) ??
          { held: false, inflight: ++sequence, lockEnd: 5_000 };
        groups.groups.set(step.key, group);
        if (step.op === "hold" && !group.held) {
          group.held = true;
          due.look(step.key, groups.heldCount());
        } else if (step.op === "release" && group.held) {
          group.held = false;
          due.forget(step.key);
        } else if (step.op === "lock") {
          group.inflight = ++sequence;
          group.lockEnd = step.time < 0 ? --earliest : step.time;
          if (group.held) due.look(step.key, groups.heldCount());
        } else if (step.op === "unlock") {
          group.inflight = 0;
          if (group.held) due.look(step.key, groups.heldCount());
        }
      }
      assert.equal(due.dueAt(groups), groups.walk());
    }),
    { numRuns: 300 },
  );
});

Deno.test("HeldDue keeps about as many heap entries as groups held, however many locks changed", () => {
  const groups = new Groups();
  const due = new HeldDue();
  for (const key of keys) {
    groups.groups.set(key, { held: true, inflight: key.charCodeAt(0), lockEnd: 1_000_000 });
    due.look(key, groups.heldCount());
  }
  due.dueAt(groups);
  const held = due.memoryBytes();
  // Each lock change leaves an entry stale below the top (the locks end earlier and earlier).
  for (let change = 1; change <= 10_000; change++) {
    const group = groups.groups.get("a")!;
    group.inflight = 1_000 + change;
    group.lockEnd = 1_000_000 - change;
    due.look("a", keys.length);
    assert.equal(due.dueAt(groups), groups.walk());
  }
  assert.ok(due.memoryBytes() <= held + 16 * 300, `${due.memoryBytes()} bytes for ${held}`);
});

Deno.test("HeldDue looks at every held group once more than a quarter of them changed", () => {
  const groups = new Groups();
  const due = new HeldDue();
  const held = Array.from({ length: 1_000 }, (_, index) => `g${index}`);
  held.forEach((key, index) => {
    groups.groups.set(key, { held: true, inflight: index + 1, lockEnd: 50_000 + index });
    due.look(key, index);
  });
  assert.equal(due.dueAt(groups), 50_000);
  for (const [index, key] of held.entries()) {
    if (index % 2 === 1) continue; // 500 change: their locks end later, one earlier
    const group = groups.groups.get(key)!;
    group.inflight += 1_000;
    group.lockEnd = index === 998 ? 40_000 : 90_000 + index;
    due.look(key, held.length);
  }
  assert.ok(due.memoryBytes() < 16 * 2_000, "the list of groups to look at is not kept");
  assert.equal(due.dueAt(groups), 40_000);
  groups.groups.get("g998")!.held = false;
  due.forget("g998");
  assert.equal(due.dueAt(groups), groups.walk());
  assert.equal(groups.walk(), 50_001);
});
