import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeReceiptBytes, receiptBytesToHandle, receiptHandleToBytes } from "./receipt.ts";
import { heldDueChecks } from "./held_due.ts";
import { trackCountChecks } from "./track_counts.ts";
import { names, type Op, opArb, ttlOps } from "./_model_ops.ts";
import { Harness } from "./_model_harness.ts";
import { create, runOp } from "./_model_steps.ts";

function compareCounts(h: Harness, context: string): void {
  for (const name of names) {
    const queue = h.modelQueue(name);
    const view = h.machine.getQueue(name, h.now);
    if (!queue) {
      assert.equal(view, undefined);
      continue;
    }
    assert.ok(view, `${name} missing`);
    const {
      activeMessages,
      inflightMessages,
      delayedMessages,
      rewindableMessages,
      oldestMessageAt,
    } = view;
    assert.deepEqual(
      { activeMessages, inflightMessages, delayedMessages, rewindableMessages, oldestMessageAt },
      h.model.counts(queue, h.now),
      `counts of ${name} after ${context}`,
    );
    // Long polls wake as many receivers as this count: it may be high, never too low.
    for (const machine of h.twin ? [h.machine, h.twin] : [h.machine]) {
      const count = machine.receivableCount(name, h.now, 1_000);
      const receivable = machine.hasReceivable(name, h.now);
      if (receivable) assert.ok(count >= 1, `${name} count after ${context}`);
      if (h.model.hasCandidate(queue, h.now)) {
        assert.ok(receivable, `${name} has a receivable message after ${context}`);
      }
      // Standard: exactly the visible ones (a lock deleted, changed or ended early adds none).
      if (!queue.attributes.fifo) {
        assert.equal(count, Math.min(1_000, activeMessages), `${name} count, ${context}`);
        assert.equal(receivable, activeMessages > 0, `${name} receivable, ${context}`);
      }
      // FIFO: exactly one per open group (a delay that ended behind a lock opens none).
      const openGroups: number = h.model.openHeads(queue, h.now).length;
      if (queue.attributes.fifo) assert.equal(count, openGroups, `${name} open groups, ${context}`);
    }
  }
}

/** The node-wide totals (`depthTotals`, what /metrics reports) are the sums of the queues' views. */
function compareTotals(h: Harness, context: string): void {
  for (const machine of h.twin ? [h.machine, h.twin] : [h.machine]) {
    const sums = { activeMessages: 0, inflightMessages: 0, delayedMessages: 0 };
    for (const name of names) {
      const view = machine.getQueue(name, h.now);
      if (view === undefined) continue;
      sums.activeMessages += view.activeMessages;
      sums.inflightMessages += view.inflightMessages;
      sums.delayedMessages += view.delayedMessages;
    }
    assert.deepEqual(machine.depthTotals(h.now), sums, `totals after ${context}`);
  }
}

/** A Tick is asked for whenever the dead-letter TTL has a message to move. */
function checkTtlDue(h: Harness, context: string): void {
  for (const [name, queue] of h.model.queues) {
    if (!h.model.ttlMoveDue(queue, h.now)) continue;
    for (const machine of h.twin ? [h.machine, h.twin] : [h.machine]) {
      assert.ok(machine.needsTick(h.now), `needsTick (TTL of ${name}) after ${context}`);
    }
  }
}

/**
 * Every queue's due time: the held FIFO groups' part and the part of a standard queue's messages
 * the TTL keeps in flight are kept up to date as they change, and `heldDueChecks` makes each call
 * compare them with a walk over all of them (it throws if not equal; a Tick also checks the kept
 * messages it moves against a walk).
 */
function checkDueTimes(h: Harness, context: string): void {
  for (const machine of h.twin ? [h.machine, h.twin] : [h.machine]) {
    for (const [name, due] of machine.queueDueTimes(h.now)) {
      assert.ok(!Number.isNaN(due), `due time of ${name} after ${context}`);
    }
  }
}

function runModel(ops: Op[], variants: Record<string, number>): void {
  const h = new Harness();
  for (const name of ["da", "df", "a", "f"]) create(h, name, variants[name] ?? 0);
  heldDueChecks.enabled = true;
  trackCountChecks.enabled = true;
  try {
    ops.forEach((op, step) => {
      runOp(h, op);
      const context = `step ${step} ${JSON.stringify(op)}`;
      compareCounts(h, context);
      compareTotals(h, context);
      h.compareTwin(context);
      checkTtlDue(h, context);
      checkDueTimes(h, context);
    });
  } finally {
    heldDueChecks.enabled = false;
    trackCountChecks.enabled = false;
  }
  assert.ok(h.machine.lowestReferencedIndex() >= 1);
}

Deno.test("the state machine matches the reference model on random command sequences", () => {
  fc.assert(
    fc.property(
      fc.array(opArb, { minLength: 40, maxLength: 200, size: "max" }),
      (ops) => runModel(ops, {}),
    ),
    { numRuns: Number(Deno.env.get("MODEL_RUNS") ?? 150) },
  );
});

Deno.test("the state machine matches the reference model on FIFO dead-letter TTL sequences", () => {
  fc.assert(
    fc.property(
      fc.array(ttlOps("f", "df"), { minLength: 40, maxLength: 200, size: "max" }),
      (ops) => runModel(ops, { f: 3 }),
    ),
    { numRuns: Number(Deno.env.get("MODEL_RUNS") ?? 150) },
  );
});

Deno.test("the state machine matches the reference model on standard dead-letter TTL sequences", () => {
  fc.assert(
    fc.property(
      fc.array(ttlOps("a", "da"), { minLength: 40, maxLength: 200, size: "max" }),
      (ops) => runModel(ops, { a: 3 }),
    ),
    { numRuns: Number(Deno.env.get("MODEL_RUNS") ?? 150) },
  );
});

Deno.test("receipt handle helpers round-trip", () => {
  const bytes = encodeReceiptBytes({ incarnation: 3, sequence: 9, deliveryIndex: 12, tag: 77 });
  assert.deepEqual(receiptHandleToBytes(receiptBytesToHandle(bytes)), bytes);
});
