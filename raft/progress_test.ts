import assert from "node:assert/strict";
import { Inflights, Progress } from "./progress.ts";
import { logIndex } from "./types.ts";

Deno.test("in-flight appends fill by count or bytes and free in order", () => {
  const inflights = new Inflights({ messagesMax: 3, bytesMax: 1000 });
  inflights.add(logIndex(5), 100);
  inflights.add(logIndex(9), 100);
  assert.equal(inflights.full(), false);
  inflights.add(logIndex(12), 100);
  assert.equal(inflights.full(), true);
  inflights.freeTo(logIndex(9));
  assert.equal(inflights.count, 1);
  assert.equal(inflights.bytes, 100);
  inflights.add(logIndex(20), 950);
  assert.equal(inflights.full(), true, "full by bytes");
  inflights.freeFirstOne();
  assert.equal(inflights.count, 1);
  assert.throws(() => inflights.add(logIndex(15), 1), "in-flight indexes only grow");
});

Deno.test("a probing follower gets one append; a rejection steps next back by the hint", () => {
  const progress = new Progress(logIndex(11), { messagesMax: 8, bytesMax: 1 << 20 });
  assert.equal(progress.isPaused(), false);
  progress.sentEntries(logIndex(12), 10);
  assert.equal(progress.isPaused(), true);
  assert.equal(
    progress.maybeDecrTo(logIndex(3), logIndex(2)),
    false,
    "a stale rejection is ignored",
  );
  assert.equal(progress.maybeDecrTo(logIndex(10), logIndex(4)), true);
  assert.equal(progress.next, 5);
  assert.equal(progress.isPaused(), false);
});

Deno.test("a replicating follower pipelines and falls back to match + 1 on rejection", () => {
  const progress = new Progress(logIndex(1), { messagesMax: 2, bytesMax: 1 << 20 });
  progress.maybeUpdate(logIndex(4));
  progress.becomeReplicate();
  progress.sentEntries(logIndex(6), 10);
  progress.sentEntries(logIndex(8), 10);
  assert.equal(progress.next, 9);
  assert.equal(progress.isPaused(), true);
  assert.equal(
    progress.maybeDecrTo(logIndex(4), logIndex(0)),
    false,
    "rejections at or below match are stale",
  );
  assert.equal(progress.maybeDecrTo(logIndex(6), logIndex(0)), true);
  assert.equal(progress.next, 5);
});

Deno.test("a probe rejected at match lowers match to the follower's hint (it lost entries)", () => {
  const progress = new Progress(logIndex(1), { messagesMax: 8, bytesMax: 1 << 20 });
  progress.maybeUpdate(logIndex(9));
  progress.becomeProbe();
  progress.sentEntries(logIndex(12), 10);
  assert.equal(progress.maybeDecrTo(logIndex(9), logIndex(4)), true);
  assert.equal(progress.match, 4);
  assert.equal(progress.next, 5);
  assert.equal(progress.isPaused(), false);
  assert.equal(
    progress.maybeDecrTo(logIndex(9), logIndex(4)),
    false,
    "a duplicate of the rejection is stale",
  );
});
