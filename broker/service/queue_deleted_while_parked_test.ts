import assert from "node:assert/strict";
import {
  BrokerError,
  CommandType,
  encodeCreateQueue,
  encodeQueueCommand,
  resolveCreate,
  StateMachine,
} from "../engine/mod.ts";
import { flush, setup } from "../cluster/testing/mod.ts";
import type { AppliedEntry, Applier, Proposer } from "../replication/mod.ts";
import { ManualClock, MemoryReplica } from "../replication/testing/mod.ts";
import { EngineService } from "./mod.ts";

/** Tracks whether `promise` settled, and how. */
function track<T>(promise: Promise<T>) {
  const state: { settled: boolean; value?: T; error?: unknown } = { settled: false };
  promise.then(
    (value) => Object.assign(state, { settled: true, value }),
    (error) => Object.assign(state, { settled: true, error }),
  );
  return state;
}

/** Lets the applies and the answers queued now run (the manual clock stands still). */
async function settle(): Promise<void> {
  for (let turn = 0; turn < 5; turn++) await flush();
}

function assertQueueNotFound(state: { settled: boolean; error?: unknown }): void {
  assert.ok(state.settled, "the parked receive is still waiting");
  assert.ok(state.error instanceof BrokerError, `not a BrokerError: ${state.error}`);
  assert.equal(state.error.code, "QueueNotFound", state.error.message);
}

/**
 * Applies the entries committed together in one go, as a replica applies a batch: nothing (no
 * woken receive) runs between them. `hold` keeps the next entry back until `release`, which
 * applies it and every entry appended after it.
 */
class OneBatch implements Applier {
  readonly machine = new StateMachine();
  replica!: MemoryReplica<OneBatch>;
  #holding = false;
  #release?: () => void;
  /** Results of the entries `release` applied ahead of the replica asking. */
  readonly #ahead = new Map<number, unknown>();

  get appliedIndex(): number {
    return this.machine.appliedIndex;
  }

  hold(): void {
    this.#holding = true;
  }

  release(): void {
    assert.ok(this.#release, "no entry held");
    this.#release();
  }

  apply(entry: AppliedEntry): unknown {
    if (this.#ahead.has(entry.index)) {
      const result = this.#ahead.get(entry.index);
      this.#ahead.delete(entry.index);
      return result;
    }
    if (!this.#holding) return this.machine.apply(entry);
    this.#holding = false;
    return new Promise((resolve) => {
      this.#release = () => {
        const result = this.machine.apply(entry);
        for (let index = entry.index + 1; index <= this.replica.lastIndex; index++) {
          this.#ahead.set(index, this.machine.apply(this.replica.entry(index)));
        }
        resolve(result);
      };
    });
  }

  snapshot(): Uint8Array {
    return this.machine.snapshot();
  }

  loadSnapshot(bytes: Uint8Array): void {
    this.machine.loadSnapshot(bytes);
  }

  lowestReferencedIndex(): number {
    return this.machine.lowestReferencedIndex();
  }
}

/** Proposes a DeleteQueue straight to the replica: the service's `deleteQueue` never hears of it. */
function deleteBehindTheService(replica: Proposer, queue: string) {
  return replica.propose(CommandType.DeleteQueue, encodeQueueCommand({ queue }));
}

Deno.test("a receive parked on a queue answers QueueNotFound once its DeleteQueue applies", async (t) => {
  await t.step("a DeleteQueue the service did not propose (forwarded, answer lost)", async () => {
    const { broker, replica, clock } = setup();
    await broker.createQueue("jobs", {});
    const receive = track(broker.receiveMessages("jobs", { waitSeconds: 20 }));
    await settle();
    assert.equal(broker.parkedReceivers, 1);
    assert.deepEqual(await deleteBehindTheService(replica, "jobs"), { deleted: true });
    await settle();
    assertQueueNotFound(receive); // the clock stood still: not at its deadline
    assert.equal(broker.parkedReceivers, 0);
    assert.equal(clock.timerCount, 0, "its deadline timer is cleared");
  });

  await t.step("the service's own deleteQueue", async () => {
    const { broker } = setup();
    await broker.createQueue("jobs", {});
    const receive = track(broker.receiveMessages("jobs", { waitSeconds: 20 }));
    await settle();
    await broker.deleteQueue("jobs");
    await settle();
    assertQueueNotFound(receive);
    assert.equal(broker.parkedReceivers, 0);
  });

  await t.step("a receive parked while its deletes are written", async () => {
    const { broker, replica } = setup();
    await broker.createQueue("jobs", {});
    await broker.sendMessages("jobs", [{ body: "done" }]);
    const [locked] = (await broker.receiveMessages("jobs", {})).messages;
    const receive = track(
      broker.receiveMessages("jobs", {
        waitSeconds: 20,
        deleteReceiptHandles: [locked.receiptHandle],
      }),
    );
    assert.equal(broker.parkedReceivers, 1, "parked before its deletes are written");
    await deleteBehindTheService(replica, "jobs");
    await settle();
    assertQueueNotFound(receive);
    assert.equal(broker.parkedReceivers, 0);
  });

  await t.step(
    "the queue deleted and created again in one batch: the new one is not its queue",
    async () => {
      const applier = new OneBatch();
      const clock = new ManualClock();
      const replica = new MemoryReplica({ clock, machine: applier });
      applier.replica = replica;
      const broker = new EngineService({
        proposer: replica,
        machine: applier.machine,
        log: replica,
        timers: clock,
      });
      await broker.createQueue("jobs", {});
      const receive = track(broker.receiveMessages("jobs", { waitSeconds: 20 }));
      await settle();
      assert.equal(broker.parkedReceivers, 1);
      applier.hold();
      const deleted = deleteBehindTheService(replica, "jobs");
      const created = replica.propose(
        CommandType.CreateQueue,
        encodeCreateQueue({ queue: "jobs", attributes: resolveCreate({}), salt: 7 }),
      );
      await settle();
      applier.release(); // both applied before the woken receive runs on
      assert.deepEqual(await deleted, { deleted: true });
      assert.equal(((await created) as { created: boolean }).created, true);
      await settle();
      await broker.sendMessages("jobs", [{ body: "for the new queue" }]);
      await settle();
      assertQueueNotFound(receive);
      assert.equal(broker.parkedReceivers, 0);
      const fresh = await broker.receiveMessages("jobs", {});
      assert.deepEqual(
        fresh.messages.map((message) => message.body),
        ["for the new queue"],
        "the new queue's message went to no receive of the deleted one",
      );
    },
  );
});
