/**
 * The engine's second line on send records: a `delaySeconds` outside 0–43,200 or an empty
 * `groupId` is refused when the command is built (before it is proposed), while a record like
 * that already in a log applies as it always did, so replicas of an old log keep agreeing.
 */
import assert from "node:assert/strict";
import { ByteWriter } from "./binary.ts";
import { encodeSendBatch, encodeSendReceive, type SendCommandMessage } from "./commands.ts";
import { BrokerError } from "./errors.ts";
import { MachineDriver } from "./_machine_driver.ts";
import { CommandType } from "./types.ts";

function refusedAs(build: () => unknown, field: string): void {
  assert.throws(build, (error: unknown) => {
    assert.ok(error instanceof BrokerError, String(error));
    assert.equal(error.code, "InvalidParameter");
    assert.equal(error.field, field);
    return true;
  });
}

Deno.test("a send record with delaySeconds outside 0-43200 or an empty groupId is not built", () => {
  const ok: SendCommandMessage = { body: "x", delaySeconds: 0 };
  const bad: [Partial<SendCommandMessage>, string][] = [
    [{ delaySeconds: 43_201 }, "delaySeconds"],
    [{ delaySeconds: 65_535 }, "delaySeconds"],
    [{ delaySeconds: 70_000 }, "delaySeconds"],
    [{ delaySeconds: -1 }, "delaySeconds"],
    [{ delaySeconds: 1.5 }, "delaySeconds"],
    [{ groupId: "" }, "groupId"],
  ];
  for (const [change, name] of bad) {
    const messages = [ok, { ...ok, ...change }];
    refusedAs(() => encodeSendBatch({ queue: "q", messages }), `messages.1.${name}`);
    refusedAs(
      () =>
        encodeSendReceive({
          queue: "q",
          messages,
          receives: [{ maxMessages: 1, visibilityTimeoutSeconds: 0 }],
        }),
      `messages.1.${name}`,
    );
  }
  // The limits themselves are fine.
  encodeSendBatch({ queue: "q", messages: [{ ...ok, delaySeconds: 43_200, groupId: "g" }] });
});

/** A SendBatch of one record as an earlier writer could have put it in a log (no checks). */
function handWritten(queue: string, delaySeconds: number, groupId?: string): Uint8Array {
  const writer = new ByteWriter();
  writer.u8(1);
  writer.string16(queue);
  writer.u16(1);
  const tableAt = writer.length;
  writer.u32(0);
  writer.u32(0);
  writer.patchU32(tableAt, writer.length);
  writer.u16(delaySeconds);
  writer.u8(groupId === undefined ? 0 : 1);
  if (groupId !== undefined) writer.string16(groupId);
  writer.string32("old");
  writer.patchU32(tableAt + 4, writer.length);
  return writer.finish();
}

Deno.test("a record already in a log outside those rules applies as before (no check at apply)", () => {
  const driver = new MachineDriver();
  driver.create("plain", {});
  driver.create("ordered", { fifo: true });
  const delayed = driver.apply(CommandType.SendBatch, handWritten("plain", 50_000));
  assert.ok(!(delayed instanceof BrokerError), String(delayed));
  const grouped = driver.apply(CommandType.SendBatch, handWritten("ordered", 0, ""));
  assert.ok(!(grouped instanceof BrokerError), String(grouped));
  // The delayed one waits its 50,000 s, past the 43,200 a new send may ask for.
  const start = driver.now;
  driver.now = start + 43_201_000;
  assert.deepEqual(driver.receive("plain", 1, 30), []);
  driver.now = start + 50_000_000;
  assert.equal(driver.receive("plain", 1, 30).length, 1);
  // The empty group is the queue-wide one: a message sent without a groupId waits behind it.
  driver.send("ordered", [{ body: "later" }]);
  assert.equal(driver.receive("ordered", 10, 30).length, 1);
});
