import assert from "node:assert/strict";
import type { ReceivedMessage } from "../../sdk/protocol.ts";
import { AdminHistory } from "./admin_checkers.ts";

/** A history with one acknowledged send of `body` to `queue` (sequence `sequence`). */
function sent(
  history: AdminHistory,
  queue: string,
  body: string,
  sequence: number,
  groupId?: string,
) {
  history.sendAttempted(queue, { body, groupId });
  history.sendAcknowledged(queue, body, { id: `id-${body}`, sequence }, {
    requestedAt: 0,
    answeredAt: 1,
  });
}

/** Records a delivery received at log time `at` with a 2 s lock, asked for and answered at `at`. */
function deliver(
  history: AdminHistory,
  queue: string,
  body: string,
  fields: { sequence: number; at: number; count?: number; enqueuedAt?: number; groupId?: string },
) {
  const message: ReceivedMessage = {
    id: `id-${body}`,
    sequence: fields.sequence,
    body,
    receiptHandle: `h-${body}-${fields.at}`,
    enqueuedAt: fields.enqueuedAt ?? 0,
    firstReceivedAt: fields.at,
    receiveCount: fields.count ?? 1,
    visibleAt: fields.at + 2000,
  };
  if (fields.groupId !== undefined) message.groupId = fields.groupId;
  return history.delivered(queue, message, {
    visibilitySeconds: 2,
    requestedAt: fields.at,
    answeredAt: fields.at,
  });
}

function rewind(
  history: AdminHistory,
  queue: string,
  request: { timestamp: number } | { sequence: number },
  at: number,
) {
  history.adminDone({ kind: "rewind", queue, request, requestedAt: at, answeredAt: at + 1 });
}

Deno.test("admin checks: a delivery after an acknowledged delete needs a rewind covering it", () => {
  const build = () => {
    const history = new AdminHistory();
    sent(history, "a-std", "a-std/c-1", 5);
    const first = deliver(history, "a-std", "a-std/c-1", {
      sequence: 5,
      at: 1000,
      enqueuedAt: 500,
    });
    history.deleteAcknowledged(first, { requestedAt: 1000, answeredAt: 1100 });
    deliver(history, "a-std", "a-std/c-1", { sequence: 5, at: 9000, enqueuedAt: 500 });
    return history;
  };
  assert.throws(() => build().check(), /deletes stick/);
  const uncovered = build();
  rewind(uncovered, "a-std", { sequence: 6 }, 5000); // after the slot: not covering it
  assert.throws(() => uncovered.check(), /deletes stick/);
  const before = build();
  rewind(before, "a-std", { timestamp: 0 }, 500); // answered before the delete was asked for
  assert.throws(() => before.check(), /deletes stick/);
  const covered = build();
  rewind(covered, "a-std", { timestamp: 500 }, 5000);
  covered.check();
  const bySequence = build();
  rewind(bySequence, "a-std", { sequence: 5 }, 5000);
  bySequence.check();
  // Deleted, then the window closed (set to 0, barring it), then reopened and rewound: barred.
  const barred = build();
  const close = { retentionSeconds: 600, rewindSeconds: 0 };
  barred.adminDone({
    kind: "update",
    queue: "a-std",
    attributes: close,
    requestedAt: 2000,
    answeredAt: 2100,
  });
  rewind(barred, "a-std", { timestamp: 500 }, 5000);
  assert.throws(() => barred.check(), /deletes stick/);
  // The same update asked for before the delete was answered may have applied before it.
  const overlapping = build();
  overlapping.adminDone({
    kind: "update",
    queue: "a-std",
    attributes: close,
    requestedAt: 1050,
    answeredAt: 2100,
  });
  rewind(overlapping, "a-std", { timestamp: 500 }, 5000);
  overlapping.check();
});

Deno.test("admin checks: a purge sticks for messages sent before it", () => {
  const build = () => {
    const history = new AdminHistory();
    sent(history, "a-std", "a-std/c-1", 5);
    history.adminDone({ kind: "purge", queue: "a-std", requestedAt: 100, answeredAt: 200 });
    deliver(history, "a-std", "a-std/c-1", { sequence: 5, at: 9000 });
    return history;
  };
  assert.throws(() => build().check(), /purges stick/);
  const rewound = build();
  rewind(rewound, "a-std", { sequence: 1 }, 5000);
  rewound.check();
});

Deno.test("admin checks: FIFO deliveries of a group never go back in sequence without a rewind", () => {
  const build = () => {
    const history = new AdminHistory();
    sent(history, "a-fifo", "a-fifo/c-1", 1, "g0");
    sent(history, "a-fifo", "a-fifo/c-2", 2, "g0");
    deliver(history, "a-fifo", "a-fifo/c-2", { sequence: 2, at: 1000, groupId: "g0" });
    deliver(history, "a-fifo", "a-fifo/c-1", { sequence: 1, at: 5000, groupId: "g0" });
    return history;
  };
  assert.throws(() => build().check(), /FIFO order/);
  const rewound = build();
  rewind(rewound, "a-fifo", { sequence: 1 }, 3000);
  rewound.check();
});

Deno.test("admin checks: locks, receive counts, origins, ids and retention", () => {
  const locked = new AdminHistory();
  sent(locked, "a-std", "a-std/c-1", 1);
  deliver(locked, "a-std", "a-std/c-1", { sequence: 1, at: 1000 });
  deliver(locked, "a-std", "a-std/c-1", { sequence: 1, at: 2500, count: 2 });
  assert.throws(() => locked.check(), /a lock is a lock/);

  const counted = new AdminHistory();
  sent(counted, "a-std", "a-std/c-1", 1);
  deliver(counted, "a-std", "a-std/c-1", { sequence: 1, at: 1000, count: 4 });
  assert.throws(() => counted.check(), /maxReceiveCount/);

  const foreign = new AdminHistory();
  sent(foreign, "a-fifo", "a-fifo/c-1", 1, "g0");
  deliver(foreign, "a-std", "a-fifo/c-1", { sequence: 1, at: 1000, groupId: "g0" });
  assert.throws(() => foreign.check(), /no message from another queue/);

  const invented = new AdminHistory();
  deliver(invented, "a-std", "a-std/c-9", { sequence: 1, at: 1000 });
  assert.throws(() => invented.check(), /no invented message/);

  const moved = new AdminHistory();
  sent(moved, "a-std", "a-std/c-1", 1);
  deliver(moved, "a-dlq", "a-std/c-1", { sequence: 7, at: 1000, enqueuedAt: 900 });
  moved.check(); // dead-lettered: same id and body, a slot of its own
  deliver(moved, "a-dlq", "a-std/c-1", { sequence: 7, at: 8000, enqueuedAt: 950 });
  assert.throws(() => moved.check(), /a slot holds one message/);

  const old = () => {
    const history = new AdminHistory();
    sent(history, "a-fifo", "a-fifo/c-1", 1, "g0");
    deliver(history, "a-fifo", "a-fifo/c-1", { sequence: 1, at: 100_000, groupId: "g0" });
    return history;
  };
  assert.throws(() => old().check(), /retention/); // 100 s old, retention 90 s
  const longer = old();
  longer.adminDone({
    kind: "update",
    queue: "a-fifo",
    attributes: { retentionSeconds: 600, rewindSeconds: 0 },
    requestedAt: 50_000,
    answeredAt: 50_001,
  });
  longer.check();
  longer.adminDone({
    kind: "update",
    queue: "a-fifo",
    attributes: { retentionSeconds: 60, rewindSeconds: 0 },
    requestedAt: 60_000,
    answeredAt: 60_001,
  });
  assert.throws(() => longer.check(), /retention/); // the 600 s was surely replaced by then
});
