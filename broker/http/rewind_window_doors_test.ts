/**
 * A rewind to the start of the queue's window, through each door (README, "Dead letters,
 * redrive, purge, rewind" and "From CMQ"): CMQ's RewindQueue with `int(now) - rewindSeconds` (or
 * any time before the window) rewinds from the window's start; v1 refuses a timestamp before the
 * window as the service sees it, and applies one at or after its start even when the window has
 * moved on by the time the entry is stamped. Both write RewindFromWindow.
 */
import assert from "node:assert/strict";
import { CommandType, StateMachine } from "../engine/mod.ts";
import { memoryEngine } from "../cluster/testing/mod.ts";
import { ManualClock, MemoryReplica } from "../replication/testing/mod.ts";
import { EngineService } from "../service/mod.ts";
import { createApp, Metrics } from "./mod.ts";
import { FakeStatus, jsonRequest } from "./testing/mod.ts";
import { formEncode } from "./cmq_v2/_cmq_test_client.ts";

const windowSeconds = 60;

function cmqRequest(params: [string, string][]): [string, RequestInit] {
  return ["/v2/index.php", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: formEncode(params),
  }];
}

Deno.test("CMQ RewindQueue with int(now) - rewindSeconds succeeds and brings back the window's messages; a time long before rewinds from the window's start; a future one is refused", async () => {
  const { clock, replica, broker } = memoryEngine({ randomSalt: () => 7 });
  const app = createApp({ service: broker, status: new FakeStatus(), metrics: new Metrics() });
  await broker.createQueue("jobs", { rewindSeconds: windowSeconds });
  // "old" is sent 5 s before the window the rewinds see, "a" and "b" inside it.
  clock.advance(250);
  for (const body of ["old", "a", "b"]) {
    await broker.sendMessages("jobs", [{ body }]);
    clock.advance(10_000);
  }
  const received = await broker.receiveMessages("jobs", { maxMessages: 3 });
  await broker.deleteMessages("jobs", received.messages.map((message) => message.receiptHandle));
  clock.advance(35_000); // now 65 s after "old"'s send: the window starts 0.25 s into a second
  const rewindQueue = async (startConsumeTime: number) => {
    const response = await app.request(...cmqRequest([
      ["Action", "RewindQueue"],
      ["queueName", "jobs"],
      ["startConsumeTime", String(startConsumeTime)],
    ]));
    return await response.json() as { code: number; message: string };
  };
  const bodies = async () => {
    const again = await broker.receiveMessages("jobs", { maxMessages: 3 });
    const handles = again.messages.map((message) => message.receiptHandle);
    if (handles.length > 0) await broker.deleteMessages("jobs", handles);
    return again.messages.map((message) => message.body);
  };
  const natural = Math.floor(clock.now() / 1000) - windowSeconds;
  assert.ok(natural * 1000 < clock.now() - windowSeconds * 1000, "before the window, in ms");
  const reply = await rewindQueue(natural);
  assert.equal(reply.code, 0, reply.message);
  assert.equal(replica.entry(replica.lastIndex).type, CommandType.RewindFromWindow);
  assert.deepEqual(await bodies(), ["a", "b"]);
  for (const longBefore of [natural - 7_200, 5, 0]) {
    const clamped = await rewindQueue(longBefore);
    assert.equal(clamped.code, 0, clamped.message);
    assert.deepEqual(await bodies(), ["a", "b"], String(longBefore));
  }
  const future = await rewindQueue(Math.floor(clock.now() / 1000) + 1);
  assert.equal(future.code, 4000);
  assert.match(future.message, /startConsumeTime: in the future/);
  assert.deepEqual(await bodies(), []);
});

/** A replica whose clock moves on by `lagMs` between the service's check and a rewind's stamp. */
class LateReplica extends MemoryReplica<StateMachine> {
  constructor(readonly clock: ManualClock, readonly lagMs: number) {
    super({ clock, machine: new StateMachine() });
  }
  override propose(type: number, payload: Uint8Array): Promise<unknown> {
    if (type === CommandType.Rewind || type === CommandType.RewindFromWindow) {
      this.clock.advance(this.lagMs);
    }
    return super.propose(type, payload);
  }
}

Deno.test("v1 rewind to the exact window start the service checked is applied although the window moved before the entry was stamped; a timestamp before it is refused as before", async () => {
  const clock = new ManualClock(1_700_000_000_000);
  const replica = new LateReplica(clock, 5);
  const broker = new EngineService({
    proposer: replica,
    machine: replica.machine,
    log: replica,
    timers: clock,
  });
  const app = createApp({ service: broker, status: new FakeStatus(), metrics: new Metrics() });
  await broker.createQueue("orders", { rewindSeconds: windowSeconds });
  const first = clock.now();
  for (const body of ["first", "second"]) {
    await broker.sendMessages("orders", [{ body }]);
    clock.advance(10_000);
  }
  const received = await broker.receiveMessages("orders", { maxMessages: 2 });
  await broker.deleteMessages("orders", received.messages.map((message) => message.receiptHandle));
  clock.advance(first + windowSeconds * 1000 - clock.now());
  const rewind = (body: unknown) =>
    app.request("/v1/queues/orders/rewind", jsonRequest("POST", body));

  const early = await rewind({ timestamp: first - 1 });
  assert.equal(early.status, 400);
  const refusal = await early.json();
  assert.equal(refusal.error.code, "InvalidParameter");
  assert.equal(
    refusal.error.message,
    `timestamp: before the rewind window (starts at ${first})`,
  );
  assert.equal(replica.entry(replica.lastIndex).type, CommandType.DeleteBatch, "nothing written");

  const windowStart = clock.now() - windowSeconds * 1000;
  const response = await rewind({ timestamp: windowStart });
  const text = await response.text();
  assert.equal(response.status, 200, text);
  const entry = replica.entry(replica.lastIndex);
  assert.equal(entry.type, CommandType.RewindFromWindow);
  assert.equal(entry.timestamp, windowStart + windowSeconds * 1000 + 5, "stamped 5 ms later");
  // "first", sent at the window start the service saw, is out of the window at apply.
  assert.deepEqual(JSON.parse(text), {
    from: { timestamp: first + 10_000, sequence: 2 },
    messages: 1,
  });
  const again = await broker.receiveMessages("orders", { maxMessages: 2 });
  assert.deepEqual(again.messages.map((message) => message.body), ["second"]);

  // A sequence means what it meant: written in the earlier form.
  await broker.deleteMessages("orders", again.messages.map((message) => message.receiptHandle));
  const bySequence = await rewind({ sequence: 2 });
  assert.equal(bySequence.status, 200, await bySequence.text());
  assert.equal(replica.entry(replica.lastIndex).type, CommandType.Rewind);
});
