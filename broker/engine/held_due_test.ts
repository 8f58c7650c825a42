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
          due.look(step.key);
        } else if (step.op === "release" && group.held) {
          group.held = false;
          due.forget(step.key);
        } else if (step.op === "lock") {
          group.inflight = ++sequence;
          group.lockEnd = step.time < 0 ? --earliest : step.time;
          if (group.held) due.look(step.key);
        } else if (step.op === "unlock") {
          group.inflight = 0;
          if (group.held) due.look(step.key);
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
    due.look(key);
  }
  due.dueAt(groups);
  const held = due.memoryBytes();
  // Each lock change leaves an entry stale below the top (the locks end earlier and earlier).
  for (let change = 1; change <= 10_000; change++) {
    const group = groups.groups.get("a")!;
    group.inflight = 1_000 + change;
    group.lockEnd = 1_000_000 - change;
    due.look("a");
    assert.equal(due.dueAt(groups), groups.walk());
  }
  assert.ok(due.memoryBytes() <= held + 16 * 300, `${due.memoryBytes()} bytes for ${held}`);
});
