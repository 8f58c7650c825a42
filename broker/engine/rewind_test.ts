/**
 * What a rewind does to the messages around the ones it brings back, as the README's "Dead
 * letters, redrive, purge, rewind" describes it: the window counted from each send, messages in
 * flight, a FIFO group's order, `maxBacklog`, the dead-letter TTL.
 */
import assert from "node:assert/strict";
import { type ReceiveResult, StateMachine } from "./state_machine.ts";
import type { DeleteResult } from "./command_results.ts";
import { BrokerError } from "./errors.ts";
import { CommandType, type QueueAttributesInput } from "./types.ts";
import {
  encodeCreateQueue,
  encodeDeleteBatch,
  encodeReceiveBatch,
  encodeRewind,
  encodeSendBatch,
  encodeTick,
  encodeUpdateQueue,
  type SendCommandMessage,
} from "./commands.ts";
import { resolveCreate } from "./queue_attributes.ts";
import { receiptHandleToBytes } from "./receipt.ts";

class Driver {
  machine = new StateMachine();
  now = 1_700_000_000_000;

  apply(type: number, payload: Uint8Array): unknown {
    const index = this.machine.appliedIndex + 1;
    return this.machine.apply({ index, timestamp: this.now, type, payload });
  }
  create(queue: string, attributes: QueueAttributesInput): void {
    const resolved = resolveCreate(attributes);
    this.apply(
      CommandType.CreateQueue,
      encodeCreateQueue({ queue, attributes: resolved, salt: 5 }),
    );
  }
  send(queue: string, messages: Partial<SendCommandMessage>[]): unknown {
    const full = messages.map((message) => ({ body: "x", delaySeconds: 0, ...message }));
    return this.apply(CommandType.SendBatch, encodeSendBatch({ queue, messages: full }));
  }
  /** Receives up to `max`, each locked for `seconds`. */
  receive(queue: string, max: number, seconds: number) {
    const payload = encodeReceiveBatch({
      queue,
      maxMessages: max,
      visibilityTimeoutSeconds: seconds,
      deleteHandles: [],
    });
    return (this.apply(CommandType.ReceiveBatch, payload) as ReceiveResult).messages;
  }
  remove(queue: string, handles: string[]): DeleteResult {
    const payload = encodeDeleteBatch({ queue, handles: handles.map(receiptHandleToBytes) });
    return this.apply(CommandType.DeleteBatch, payload) as DeleteResult;
  }
  rewind(queue: string, timestamp: number): { messages: number } {
    return this.apply(CommandType.Rewind, encodeRewind({ queue, timestamp })) as {
      messages: number;
    };
  }
  view(queue: string) {
    return this.machine.getQueue(queue, this.now)!;
  }
}

Deno.test("the rewind window counts from each send: raising rewindSeconds brings back a deleted message still held behind an older one", () => {
  const driver = new Driver();
  driver.create("work", { rewindSeconds: 0 });
  const start = driver.now;
  driver.send("work", [{ body: "stuck" }, { body: "done" }]);
  const [, done] = driver.receive("work", 2, 43_200);
  driver.remove("work", [done.receiptHandle]); // deleted while rewind is off
  driver.now += 3_600_000;
  driver.apply(CommandType.TickInGroupOrder, encodeTick());
  assert.equal(driver.view("work").rewindableMessages, 0);
  const update = encodeUpdateQueue({ queue: "work", attributes: { rewindSeconds: 7_200 } });
  driver.apply(CommandType.UpdateQueue, update);
  assert.equal(
    driver.view("work").rewindableMessages,
    1,
    "held behind 'stuck', still in the queue",
  );
  assert.equal(driver.rewind("work", start).messages, 1);
});

Deno.test("a rewind leaves a message in flight as it is; on a FIFO queue its group's rewound head waits for it", () => {
  const driver = new Driver();
  driver.create("work", { fifo: true, rewindSeconds: 600 });
  const start = driver.now;
  driver.send("work", ["1", "2", "3"].map((body) => ({ body, groupId: "g" })));
  const [first] = driver.receive("work", 1, 30);
  driver.remove("work", [first.receiptHandle]);
  const [second] = driver.receive("work", 1, 30);
  assert.equal(driver.rewind("work", start).messages, 1);
  assert.deepEqual(driver.receive("work", 10, 30), [], "the group has a message in flight");
  assert.equal(driver.view("work").inflightMessages, 1);
  driver.now += 31_000; // the lock ends: the rewound head comes first, then the one in flight
  const [again] = driver.receive("work", 10, 30);
  assert.deepEqual([again.sequence, again.receiveCount], [first.sequence, 1]);
  driver.remove("work", [again.receiptHandle]);
  const [next] = driver.receive("work", 10, 30);
  assert.deepEqual([next.sequence, next.receiveCount], [second.sequence, 2]);
  // On a standard queue a lock held across a rewind still deletes its message.
  driver.create("plain", { rewindSeconds: 600 });
  driver.send("plain", [{ body: "a" }, { body: "b" }]);
  const [a, b] = driver.receive("plain", 2, 30);
  driver.remove("plain", [a.receiptHandle]);
  assert.equal(driver.rewind("plain", start).messages, 1);
  assert.deepEqual(driver.remove("plain", [b.receiptHandle]), { deleted: 1, failures: [] });
});

Deno.test("a rewind is not refused by maxBacklog; sends are until the queue is below it again", () => {
  const driver = new Driver();
  driver.create("work", { rewindSeconds: 600, maxBacklog: 2 });
  const start = driver.now;
  driver.send("work", [{ body: "a" }, { body: "b" }]);
  driver.remove("work", driver.receive("work", 2, 30).map((message) => message.receiptHandle));
  driver.send("work", [{ body: "c" }, { body: "d" }]);
  assert.equal(driver.rewind("work", start).messages, 2);
  assert.equal(driver.view("work").activeMessages, 4);
  const refused = driver.send("work", [{ body: "e" }]);
  assert.ok(refused instanceof BrokerError && refused.code === "BacklogFull");
});

Deno.test("rewound messages older than the dead-letter TTL move to the dead-letter queue at the next receive", () => {
  const driver = new Driver();
  driver.create("dlq", {});
  const policy = { queue: "dlq", maxTimeToLiveSeconds: 300 };
  driver.create("work", { rewindSeconds: 3_600, deadLetter: policy });
  const start = driver.now;
  driver.send("work", [{ body: "a" }, { body: "b" }]);
  driver.remove("work", driver.receive("work", 2, 30).map((message) => message.receiptHandle));
  driver.now += 400_000;
  assert.equal(driver.rewind("work", start).messages, 2);
  assert.deepEqual(driver.receive("work", 10, 30), []);
  assert.equal(driver.view("dlq").activeMessages, 2);
  // Without the TTL, a rewind replays them.
  const update = encodeUpdateQueue({ queue: "work", attributes: { deadLetter: null } });
  driver.apply(CommandType.UpdateQueue, update);
  driver.send("work", [{ body: "c" }]);
  driver.remove("work", driver.receive("work", 1, 30).map((message) => message.receiptHandle));
  assert.equal(driver.rewind("work", start).messages, 3);
  assert.equal(driver.receive("work", 10, 30).length, 3);
});
