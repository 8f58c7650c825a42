import assert from "node:assert/strict";
import {
  type FileHandle,
  ForwardingFileHandle,
  ForwardingFileSystem,
  SimFileSystem,
} from "../../storage/mod.ts";
import { startNode } from "./node.ts";
import { until } from "./testing/mod.ts";
import {
  fillLog as filled,
  scrubNodeOptions as nodeOptions,
  sealedSegmentWithTwoRecords,
} from "./testing/filled_log.ts";

/** Fails every read touching bytes [from, to) of one file, as an unreadable sector does. */
class BadSector extends ForwardingFileSystem {
  bad: { path: string; from: number; to: number } | null = null;

  protected override wrap(handle: FileHandle): FileHandle {
    const badRange = () => this.bad;
    return new class extends ForwardingFileHandle {
      override readSync(position: number, target: Uint8Array): number {
        const bad = badRange();
        if (
          bad !== null && this.path === bad.path && position < bad.to &&
          position + target.length > bad.from
        ) throw new Error("EIO: input/output error (unreadable sector)");
        return super.readSync(position, target);
      }
    }(handle);
  }
}

Deno.test("a sector the scrubber can't read stops the node, and the restart starts with the log cut and distrusted", async () => {
  const sim = new SimFileSystem();
  const fs = new BadSector(sim);
  await filled(fs, 10); // snapshots cover the early segments: the open does not replay them
  const damaged = sealedSegmentWithTwoRecords(sim);
  fs.bad = { path: damaged.path, from: damaged.offset + 50, to: damaged.offset + 51 };
  const second = await startNode(nodeOptions(fs, 64 * 1024 * 1024, 10));
  const fatal: Error[] = [];
  second.onFatal((error) => fatal.push(error));
  await until(() => fatal.length > 0, "the scrubber to report");
  assert.match(fatal[0].message, /read failed/);
  await second.close();

  sim.crash();
  const third = await startNode(nodeOptions(fs, 0, 10));
  assert.equal(third.log.recovery.corruptAt?.index, damaged.index);
  assert.match(third.log.recovery.corruptAt?.reason ?? "", /read failed/);
  assert.equal(third.log.damage?.torn, false);
  assert.equal(third.replica.status().canCampaign, false, "the replica distrusts its log");
  await third.close();
});

Deno.test("a sector the replay can't read under a trusted index is cut at open and the log distrusted", async () => {
  const sim = new SimFileSystem();
  const fs = new BadSector(sim);
  await filled(fs, 1_000_000); // no snapshot: the whole log is replayed at open
  const damaged = sealedSegmentWithTwoRecords(sim);
  fs.bad = { path: damaged.path, from: damaged.offset + 50, to: damaged.offset + 51 };
  const node = await startNode(nodeOptions(fs, 0, 1_000_000));
  assert.ok((node.log.recovery.indexedSegments ?? 0) > 0);
  assert.equal(node.log.damage?.torn, false);
  assert.equal(node.log.damage?.detail.index, damaged.index);
  assert.equal(node.log.lastIndex, damaged.index - 1, "the log is cut before the sector");
  assert.equal(node.replica.status().canCampaign, false, "the replica distrusts its log");
  await node.close();
});
