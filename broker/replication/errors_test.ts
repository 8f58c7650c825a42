import assert from "node:assert/strict";
import { InvalidRequestError, ProposalDroppedError } from "../../raft/mod.ts";
import { fromRaftError, ReplicationError, stopLine } from "./errors.ts";

Deno.test("a replica's stop is warned of with its stack, but an expected one in its owner's line", () => {
  const failure = new Error("fsync failed");
  const unexpected = stopLine(failure, null);
  assert.ok(unexpected.startsWith("replica stopped: Error: fsync failed\n"), unexpected);
  assert.match(unexpected, /^ {4}at /m);
  const expected = stopLine(new Error("log entry 4 has command type 49"), "entry 4: upgrade");
  assert.equal(expected, "replica stopped: entry 4: upgrade");
});

Deno.test("the Raft core's refusal for now keeps its reason as a field, not only in its text", () => {
  const refused = fromRaftError(
    new ProposalDroppedError("config-change-pending", "a config change is uncommitted"),
  );
  assert.ok(refused instanceof ReplicationError);
  assert.equal(refused.code, "NotReady");
  assert.equal(refused.retryAfterSeconds, 1);
  assert.equal(refused.dropReason, "config-change-pending");
  const other = fromRaftError(new InvalidRequestError("n9 is not a voter"));
  assert.ok(other instanceof ReplicationError);
  assert.equal(other.dropReason, undefined);
});
