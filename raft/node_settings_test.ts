import assert from "node:assert/strict";
import { MemorySnapshotSink } from "./log_storage.ts";
import { type RaftNodeOptions, resolveSettings } from "./node.ts";

const GiB = 1024 ** 3;

Deno.test("a node with its own snapshot sink accepts snapshots past 4 GiB; the in-memory sink stays at 4 GiB", () => {
  // Only the tuning fields matter to the settings; the rest is never read.
  const base = {} as RaftNodeOptions;
  assert.equal(resolveSettings(base).snapshotBytesMax, 4 * GiB);
  const streaming: RaftNodeOptions = { ...base, snapshotSink: new MemorySnapshotSink() };
  assert.equal(resolveSettings(streaming).snapshotBytesMax, 1024 * GiB);
  const capped: RaftNodeOptions = { ...streaming, snapshotBytesMax: 8 * GiB };
  assert.equal(resolveSettings(capped).snapshotBytesMax, 8 * GiB);
});
