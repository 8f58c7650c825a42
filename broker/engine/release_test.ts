/**
 * Entries and snapshots a newer release wrote are refused, never applied as failures (the old
 * and new replicas would diverge): `apply` throws `NewerReleaseError` and changes nothing, and
 * does so again when retried. A payload of a known type and layout that does not decode stays
 * an applied `MalformedRequest`: every release agrees on it.
 */
import assert from "node:assert/strict";
import { StateMachine } from "./state_machine.ts";
import { BrokerError } from "./errors.ts";
import { type AppliedEntry, CommandType, commandTypes } from "./types.ts";
import {
  encodeCreateQueue,
  encodeReceiveBatch,
  encodeSendBatch,
  encodeSendReceive,
} from "./commands.ts";
import { encodePublishBatch, encodePushResults } from "./topic_commands.ts";
import { resolveCreate } from "./queue_attributes.ts";
import { cmqdRelease, NewerReleaseError } from "./release.ts";
import { DecodeError } from "./binary.ts";

const t0 = 1_700_000_000_000;

function entry(index: number, type: number, payload: Uint8Array): AppliedEntry {
  return { index, timestamp: t0 + index, type, payload };
}

const createJobs = entry(
  1,
  CommandType.CreateQueue,
  encodeCreateQueue({ queue: "jobs", attributes: resolveCreate({}), salt: 7 }),
);
const sendJobs = entry(
  2,
  CommandType.SendBatch,
  encodeSendBatch({ queue: "jobs", messages: [{ body: "a", delaySeconds: 0 }] }),
);

function started(machine = new StateMachine()): StateMachine {
  machine.apply(createJobs);
  machine.apply(sendJobs);
  return machine;
}

/** Applying `refused` to `machine` throws `message` twice and changes nothing. */
function assertRefused(machine: StateMachine, refused: AppliedEntry, message: string): void {
  const before = machine.snapshot();
  for (let attempt = 0; attempt < 2; attempt++) {
    assert.throws(() => machine.apply(refused), (error: Error) => {
      assert.ok(error instanceof NewerReleaseError, String(error));
      assert.equal(error.message, message);
      return true;
    });
  }
  assert.equal(machine.appliedIndex, refused.index - 1);
  assert.deepEqual(machine.snapshot(), before, "nothing changed, not even the applied index");
}

Deno.test("an entry of a command type this release does not know stops apply, changing nothing", () => {
  const machine = started();
  assertRefused(
    machine,
    entry(3, 49, new Uint8Array([1, 2, 3])),
    `log entry 3 has command type 49, which this release (cmqd ${cmqdRelease}) does not know: ` +
      "a newer release wrote it; upgrade this node",
  );
  // Every type in the engine's range that is not a CommandType is refused the same way.
  for (let type = 16; type <= 255; type++) {
    if (commandTypes.has(type)) continue;
    assert.throws(() => machine.apply(entry(3, type, new Uint8Array())), NewerReleaseError);
  }
  assert.equal(machine.appliedIndex, 2);
});

Deno.test("a release that knows the type applies what an earlier one refused", () => {
  // An earlier release, before SendReceive (48) was added, stands in as the machine without it.
  const earlier = new Set([...commandTypes].filter((type) => type !== CommandType.SendReceive));
  const sendReceive = entry(
    3,
    CommandType.SendReceive,
    encodeSendReceive({
      queue: "jobs",
      messages: [{ body: "b", delaySeconds: 0 }],
      receives: [{ maxMessages: 1, visibilityTimeoutSeconds: 30 }],
    }),
  );
  const old = started(new StateMachine({ commandTypes: earlier }));
  assertRefused(
    old,
    sendReceive,
    `log entry 3 has command type 48, which this release (cmqd ${cmqdRelease}) does not know: ` +
      "a newer release wrote it; upgrade this node",
  );
  // The newer release restarts from the same state (here: the old machine's snapshot).
  const newer = StateMachine.restore(old.snapshot());
  const result = newer.apply(sendReceive) as { receives: { messages: unknown[] }[] };
  assert.equal(result.receives[0].messages.length, 1);
  assert.equal(newer.appliedIndex, 3);
  assert.equal(newer.getQueue("jobs", t0 + 3)?.inflightMessages, 1);
});

Deno.test("a command in a layout version newer than this release writes stops apply", () => {
  const machine = started();
  const receive = encodeReceiveBatch({
    queue: "jobs",
    maxMessages: 1,
    visibilityTimeoutSeconds: 0,
    deleteHandles: [],
  });
  const send = encodeSendBatch({ queue: "jobs", messages: [{ body: "c", delaySeconds: 0 }] });
  const publish = encodePublishBatch({
    topic: "t",
    messages: [{ body: "d", tags: [] }],
  });
  const pushResults = encodePushResults([]);
  const cases: [number, Uint8Array, number][] = [
    [CommandType.ReceiveBatch, receive, 5],
    [CommandType.SendBatch, send, 6],
    [CommandType.SendReceive, send, 6],
    [CommandType.PublishBatch, publish, 2],
    [CommandType.PushResults, pushResults, 3],
  ];
  for (const [type, payload, version] of cases) {
    const newer = payload.slice();
    newer[0] = version;
    assertRefused(
      machine,
      entry(3, type, newer),
      `log entry 3 has command type ${type} in layout version ${version}, which this release ` +
        `(cmqd ${cmqdRelease}) does not know: a newer release wrote it; upgrade this node`,
    );
  }
});

Deno.test("a known type in a known layout that does not decode is still an applied failure", () => {
  // Deterministic across releases: every release that reads layout 1 refuses these bytes.
  const machine = started();
  const receive = encodeReceiveBatch({
    queue: "jobs",
    maxMessages: 1,
    visibilityTimeoutSeconds: 0,
    deleteHandles: [],
  });
  const cases: [number, Uint8Array][] = [
    [CommandType.ReceiveBatch, receive.subarray(0, receive.length - 1)],
    [CommandType.ReceiveBatch, Uint8Array.of(0, ...receive.subarray(1))], // layout 0: garbage
    [CommandType.SendBatch, Uint8Array.of(2, ...sendJobs.payload.subarray(1))], // SendReceive's
    [CommandType.CreateQueue, new TextEncoder().encode("not json")],
  ];
  let index = 2;
  for (const [type, payload] of cases) {
    const result = machine.apply(entry(++index, type, payload));
    assert.ok(result instanceof BrokerError, String(result));
    assert.equal(result.code, "MalformedRequest");
    assert.equal(machine.appliedIndex, index);
  }
});

Deno.test("a state snapshot of a newer version is refused, not read as damage", () => {
  const bytes = started().snapshot();
  // (Version 2 without a rewind floor or barred message that matters; 4, the highest it writes.)
  assert.equal(bytes[4], 2, "this release writes snapshot version 2 here");
  const newer = bytes.slice();
  newer[4] = 5;
  assert.throws(() => StateMachine.restore(newer), (error: Error) => {
    assert.ok(error instanceof NewerReleaseError, String(error));
    assert.match(error.message, /^state snapshot version 5, which this release \(cmqd .*\)/);
    return true;
  });
  assert.throws(() => new StateMachine().loadSnapshot(newer), NewerReleaseError);
  const garbage = bytes.slice();
  garbage[4] = 0;
  assert.throws(() => StateMachine.restore(garbage), DecodeError);
});
