/**
 * A rewind by timestamp in the form the service writes, RewindFromWindow: a timestamp before the
 * queue's window when the entry applies rewinds from the window's start (the window moved on
 * between the service's check and the apply, or a CMQ client asked for a time before it), where
 * the earlier form, Rewind, refuses it (README, "Dead letters, redrive, purge, rewind").
 */
import assert from "node:assert/strict";
import { BrokerError } from "./errors.ts";
import { CommandType, commandTypes } from "./types.ts";
import { encodeRewind } from "./commands.ts";
import { MachineDriver } from "./_machine_driver.ts";
import { StateMachine } from "./state_machine.ts";
import { NewerReleaseError } from "./release.ts";

const windowSeconds = 60;

/**
 * A queue with a 60 s window and three messages sent 10 s apart from `start`, all deleted;
 * the driver's clock then at `start + 60 s`, so the window starts exactly at the first send.
 */
function threeDeleted(): { driver: MachineDriver; start: number } {
  const driver = new MachineDriver();
  driver.create("work", { rewindSeconds: windowSeconds });
  const start = driver.now;
  for (let i = 0; i < 3; i++) {
    driver.send("work", [{ body: `m${i}` }]);
    driver.now += 10_000;
  }
  const received = driver.receive("work", 3, 30);
  assert.equal(received.length, 3);
  driver.remove("work", received.map((message) => message.receiptHandle));
  driver.now = start + windowSeconds * 1000;
  return { driver, start };
}

function rewindAt(driver: MachineDriver, type: number, timestamp: number): unknown {
  return driver.apply(type, encodeRewind({ queue: "work", timestamp }));
}

function activeMessages(driver: MachineDriver): number {
  return driver.machine.getQueue("work", driver.now)!.activeMessages;
}

Deno.test("the exact window start checked at proposal, applied once the window moved: Rewind refuses it, as before; RewindFromWindow rewinds from the window's start", () => {
  for (const type of [CommandType.Rewind, CommandType.RewindFromWindow]) {
    const { driver, start } = threeDeleted();
    const proposedFor = driver.now - windowSeconds * 1000; // the service's check passes: = start
    assert.equal(proposedFor, start);
    driver.now += 5; // applied 5 ms later: its window starts 5 ms after the first send
    const result = rewindAt(driver, type, proposedFor);
    if (type === CommandType.Rewind) {
      assert.ok(result instanceof BrokerError, String(result));
      assert.equal(result.code, "InvalidParameter");
      assert.equal(result.field, "timestamp");
      assert.equal(result.message, `timestamp: before the rewind window (starts at ${start + 5})`);
      assert.equal(activeMessages(driver), 0, "nothing changed");
    } else {
      // The first send is out of the window at apply; the two after it come back.
      assert.deepEqual(result, { from: { timestamp: start + 10_000, sequence: 2 }, messages: 2 });
      assert.equal(activeMessages(driver), 2);
    }
  }
});

Deno.test("RewindFromWindow rewinds a time long before the window from the window's start, and a timestamp inside the window from that timestamp", () => {
  const { driver, start } = threeDeleted();
  driver.now += 250; // inside a second, as a CMQ client's int(now) - rewindSeconds is not
  const cmqShaped = Math.floor(driver.now / 1000) * 1000 - windowSeconds * 1000;
  assert.ok(cmqShaped < driver.now - windowSeconds * 1000);
  assert.deepEqual(rewindAt(driver, CommandType.RewindFromWindow, cmqShaped), {
    from: { timestamp: start + 10_000, sequence: 2 },
    messages: 2,
  });
  const again = driver.receive("work", 3, 30);
  assert.deepEqual(again.map((message) => message.sequence), [2, 3]);
  driver.remove("work", again.map((message) => message.receiptHandle));
  assert.deepEqual(rewindAt(driver, CommandType.RewindFromWindow, 0), {
    from: { timestamp: start + 10_000, sequence: 2 },
    messages: 2,
  });
  driver.remove("work", driver.receive("work", 3, 30).map((message) => message.receiptHandle));
  // Inside the window: from the first send at or after the timestamp, as Rewind does.
  for (const type of [CommandType.Rewind, CommandType.RewindFromWindow]) {
    assert.deepEqual(rewindAt(driver, type, start + 15_000), {
      from: { timestamp: start + 20_000, sequence: 3 },
      messages: 1,
    });
    driver.remove("work", driver.receive("work", 3, 30).map((message) => message.receiptHandle));
  }
});

Deno.test("RewindFromWindow with no message left in the window answers from the window's start and the queue's end", () => {
  const { driver, start } = threeDeleted();
  driver.now = start + 120_000; // every send is out of the window
  const windowStart = driver.now - windowSeconds * 1000;
  assert.deepEqual(rewindAt(driver, CommandType.RewindFromWindow, start), {
    from: { timestamp: windowStart, sequence: 4 },
    messages: 0,
  });
  assert.equal(activeMessages(driver), 0);
});

Deno.test("RewindFromWindow keeps Rewind's other refusals: rewind disabled, a sequence outside the window", () => {
  const { driver, start } = threeDeleted();
  driver.create("off", { rewindSeconds: 0 });
  const off = driver.apply(
    CommandType.RewindFromWindow,
    encodeRewind({ queue: "off", timestamp: start }),
  );
  assert.ok(off instanceof BrokerError && /rewind is disabled/.test(off.message), String(off));
  driver.now += 5;
  const sequence = driver.apply(
    CommandType.RewindFromWindow,
    encodeRewind({ queue: "work", sequence: 1 }),
  );
  assert.ok(sequence instanceof BrokerError, String(sequence));
  assert.match(sequence.message, /no message with this sequence inside the rewind window/);
  assert.equal(activeMessages(driver), 0);
});

Deno.test("a release that doesn't know RewindFromWindow refuses it and changes nothing", () => {
  const { driver, start } = threeDeleted();
  const types = new Set([...commandTypes].filter((type) => type !== CommandType.RewindFromWindow));
  const earlier = new StateMachine({ commandTypes: types });
  earlier.loadSnapshot(driver.machine.snapshot());
  const entry = {
    index: driver.machine.appliedIndex + 1,
    timestamp: driver.now,
    type: CommandType.RewindFromWindow,
    payload: encodeRewind({ queue: "work", timestamp: start }),
  };
  assert.throws(() => earlier.apply(entry), NewerReleaseError);
  assert.equal(earlier.getQueue("work", driver.now)!.activeMessages, 0);
});
