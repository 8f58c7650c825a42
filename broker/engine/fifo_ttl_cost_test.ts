/**
 * The dead-letter TTL of a FIFO queue runs in the apply path (Tick, receives) and in every
 * snapshot: its work must not grow with the groups it holds or the messages behind them. These
 * tests count operations (never time) on the structures involved.
 */
import assert from "node:assert/strict";
import { StateMachine } from "./state_machine.ts";
import { CommandType } from "./types.ts";
import {
  encodeChangeVisibility,
  encodeCreateQueue,
  encodeReceiveBatch,
  encodeSendBatch,
  encodeTick,
  type SendCommandMessage,
} from "./commands.ts";
import { resolveCreate } from "./queue_attributes.ts";
import { FifoGroups } from "./queue_fifo.ts";
import { SeqColumn } from "./seq_column.ts";
import { SortedNumbers } from "./sorted_numbers.ts";
import { ReleaseHeap } from "./release_heap.ts";
import { receiptHandleToBytes } from "./receipt.ts";
import type { ReceiveResult } from "./command_results.ts";
import { countCalls } from "./_count_calls.ts";

Deno.test("the next message of a group's last one is none, found without a scan of the queue", () => {
  const groups = new FifoGroups({
    isDeleted: () => false,
    isBlocked: () => false,
    isInflight: () => false,
  });
  groups.onAppend(1, "a");
  groups.onAppend(2, "a");
  for (let sequence = 3; sequence <= 10_002; sequence++) groups.onAppend(sequence, "b");
  let next = -1;
  const reads = countCalls(SeqColumn.prototype, "get", () => next = groups.nextOf(2, 10_003));
  assert.equal(next, 0);
  assert.ok(reads <= 2, `${reads} column reads for a group's last message`);
  assert.equal(groups.nextOf(1, 10_003), 2);
});

/**
 * A FIFO queue with a TTL of 300 s and `count` groups of two, each head locked for 12 h (its
 * receipt handle in `handles`); `apply` applies an entry at the current time.
 */
function heldGroups(count: number) {
  const machine = new StateMachine();
  let index = 0;
  let now = 1_700_000_000_000;
  const apply = (type: number, payload: Uint8Array) =>
    machine.apply({ index: ++index, timestamp: now, type, payload });
  const create = (queue: string, attributes: Parameters<typeof resolveCreate>[0]) =>
    apply(
      CommandType.CreateQueue,
      encodeCreateQueue({ queue, attributes: resolveCreate(attributes), salt: 1 }),
    );
  create("dlq", { fifo: true });
  create("work", { fifo: true, deadLetter: { queue: "dlq", maxTimeToLiveSeconds: 300 } });
  for (let round = 0; round < 2; round++) {
    for (let first = 0; first < count; first += 10) {
      const messages: SendCommandMessage[] = [];
      for (let group = first; group < first + 10; group++) {
        messages.push({ body: "x", delaySeconds: 0, groupId: `g${group}` });
      }
      apply(CommandType.SendBatch, encodeSendBatch({ queue: "work", messages }));
    }
  }
  const handles: Uint8Array[] = [];
  for (let received = 0; received < count; received += 10) {
    const result = apply(
      CommandType.ReceiveBatch,
      encodeReceiveBatch({
        queue: "work",
        maxMessages: 10,
        visibilityTimeoutSeconds: 43_200,
        deleteHandles: [],
      }),
    ) as ReceiveResult;
    for (const delivery of result.messages) {
      handles.push(receiptHandleToBytes(delivery.receiptHandle));
    }
  }
  now += 301_000;
  const tick = () => {
    apply(CommandType.TickInGroupOrder, encodeTick());
    now += 1_000;
  };
  const advance = (ms: number) => now += ms;
  return { machine, tick, apply, handles, now: () => now, advance };
}

/** Looks at FIFO groups (their head, count in flight or next message) while `run` runs. */
function groupLooks(run: () => void): number {
  let inflightLooks = 0;
  let nextLooks = 0;
  const headLooks = countCalls(FifoGroups.prototype, "headOf", () => {
    inflightLooks = countCalls(FifoGroups.prototype, "inflightOf", () => {
      nextLooks = countCalls(FifoGroups.prototype, "nextOf", run);
    });
  });
  return headLooks + inflightLooks + nextLooks;
}

Deno.test("a Tick orders none of the FIFO groups the dead-letter TTL holds while they stay locked", () => {
  const { machine, tick } = heldGroups(2_000);
  tick(); // every second message expires, and waits behind its group's head
  assert.equal(machine.getQueue("work", 0)!.inflightMessages, 2_000);
  assert.equal(machine.getQueue("dlq", 0)!.activeMessages, 0);
  let pushes = 0;
  const adds = countCalls(SortedNumbers.prototype, "add", () => {
    pushes = countCalls(ReleaseHeap.prototype, "push", tick);
  });
  const orderings = adds + pushes;
  assert.equal(orderings, 0, "inserts into an ordered set per Tick");
});

Deno.test("a snapshot lists the messages the dead-letter TTL holds without a scan per group", () => {
  const { machine, tick } = heldGroups(2_000);
  tick();
  const reads = countCalls(SeqColumn.prototype, "get", () => machine.snapshot());
  // The column writes read nothing through `get`; the held list costs a few reads per message.
  assert.ok(reads <= 4 * 4_000, `${reads} column reads`);
});

Deno.test("a Tick or a receive looks at none of the held FIFO groups whose lock and head stay", () => {
  const { machine, tick } = heldGroups(2_000);
  tick(); // every second message expires, and its group is held
  tick(); // the held groups are looked at once
  let looks = 0;
  const look = (run: () => void) => {
    let inflightLooks = 0;
    looks += countCalls(FifoGroups.prototype, "headOf", () => {
      inflightLooks = countCalls(FifoGroups.prototype, "inflightOf", run);
    });
    looks += inflightLooks;
  };
  look(tick);
  look(() =>
    machine.apply({
      index: machine.appliedIndex + 1,
      timestamp: 0, // (the time of the last entry)
      type: CommandType.ReceiveBatch,
      payload: encodeReceiveBatch({
        queue: "work",
        maxMessages: 10,
        visibilityTimeoutSeconds: 30,
        deleteHandles: [],
      }),
    })
  );
  assert.equal(machine.getQueue("work", 0)!.inflightMessages, 2_000);
  // Each of the 2,000 held groups was looked at per Tick and per receive (8,000 calls here).
  assert.ok(looks <= 20, `${looks} looks at held groups`);
});

Deno.test("needsTick looks at none of the held FIFO groups whose lock and head stay", () => {
  const { machine, tick, now } = heldGroups(2_000);
  tick(); // every second message expires, and its group is held
  assert.equal(machine.needsTick(now()), false); // each held group is looked at once
  const answers: boolean[] = [];
  const looks = groupLooks(() => {
    for (let call = 0; call < 3; call++) answers.push(machine.needsTick(now()));
  });
  assert.deepEqual(answers, [false, false, false]);
  // A walk over the held groups looked at each of the 2,000 twice per call (12,000 here).
  assert.ok(looks <= 10, `${looks} looks at held groups`);
});

Deno.test("needsTick looks again at a held FIFO group whose lock changed, and follows it", () => {
  const { machine, tick, apply, handles, now, advance } = heldGroups(2_000);
  tick();
  tick(); // (the Tick looked at the held groups once)
  assert.equal(machine.needsTick(now()), false);
  const looks = groupLooks(() => {
    apply(
      CommandType.ChangeVisibility,
      encodeChangeVisibility({
        queue: "work",
        entries: [{ handle: handles[1_234], visibilityTimeoutSeconds: 10 }],
      }),
    );
    assert.equal(machine.needsTick(now() + 9_999), false);
  });
  assert.ok(looks <= 10, `${looks} looks at held groups`);
  assert.equal(machine.needsTick(now() + 10_000), true, "the changed lock ends: a Tick is due");
  advance(10_000);
  tick(); // the group's two messages go, in order
  assert.equal(machine.getQueue("dlq", now())!.activeMessages, 2);
  assert.equal(machine.needsTick(now()), false);
});

Deno.test("a restore of held FIFO groups formats no text per message, and snapshots to the same bytes", () => {
  const { machine, tick } = heldGroups(2_000);
  tick();
  const bytes = machine.snapshot();
  let restored: StateMachine | undefined;
  // (An `assert.ok(condition, \`text ${value}\`)` per message formats its text each time.)
  const checks = countCalls(assert, "ok", () => restored = StateMachine.restore(bytes));
  assert.ok(checks <= 10, `${checks} assert.ok calls for 4,000 messages`);
  assert.deepEqual(restored!.snapshot(), bytes);
  assert.deepEqual(restored!.getQueue("work", 0), machine.getQueue("work", 0));
});
