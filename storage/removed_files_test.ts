/**
 * Removed segments give their space back off the event loop: their handles are discarded (cut,
 * then closed) once the directory sync that makes the removal durable returned, never closed
 * on the spot (closing the last handle of a removed 64 MiB file frees its blocks in the calling
 * thread: 40–70 ms of a stalled event loop).
 */
import assert from "node:assert/strict";
import { type FileHandle, type FileSystem, joinPath, RealFileSystem } from "./file_io.ts";
import { ForwardingFileHandle, ForwardingFileSystem } from "./forwarding_file_system.ts";
import { RemovedFiles } from "./removed_files.ts";
import { SegmentLog } from "./segment_log.ts";
import { segmentSuffix } from "./segment.ts";
import { SimFileSystem } from "./sim_file_system.ts";
import { makeEntries } from "./_test_helpers.ts";

/** A simulated file system that records what storage does to files and directories. */
class RecordingFileSystem extends ForwardingFileSystem {
  readonly events: string[] = [];

  constructor() {
    super(new SimFileSystem());
  }
  protected override wrap(handle: FileHandle): FileHandle {
    const events = this.events;
    return new class extends ForwardingFileHandle {
      override close(): void {
        events.push(`close ${this.path}`);
        super.close();
      }
      override discard(): Promise<void> {
        events.push(`discard ${this.path}`);
        return super.discard();
      }
    }(handle);
  }
  override remove(path: string): void {
    this.events.push(`remove ${path}`);
    super.remove(path);
  }
  override async syncDir(path: string): Promise<void> {
    await super.syncDir(path);
    this.events.push(`synced ${path}`);
  }

  /** The events of segment files and of the log's directory, in order. */
  segmentEvents(dir: string): string[] {
    return this.events.filter((event) => event.endsWith(dir) || event.endsWith(segmentSuffix));
  }
}

const dir = "/data/log";
const options = (fs: FileSystem) => ({ fs, segmentBytesMax: 500, mmap: false });

/** Asserts each removed file was discarded after a directory sync that followed its removal. */
function assertDiscardedAfterSync(events: string[], removedAtLeast: number): void {
  const removed = events.filter((event) => event.startsWith("remove ")).map((e) => e.slice(7));
  assert.ok(removed.length >= removedAtLeast, `removed ${removed.length}: ${events.join(", ")}`);
  for (const path of removed) {
    assert.ok(!events.includes(`close ${path}`), `${path} closed on the spot`);
    const removedAt = events.indexOf(`remove ${path}`);
    const discardedAt = events.indexOf(`discard ${path}`);
    const syncedAt = events.indexOf(`synced ${dir}`, removedAt);
    assert.ok(syncedAt > removedAt, `${path}: no directory sync after its removal`);
    assert.ok(
      discardedAt > syncedAt,
      `${path}: discarded at ${discardedAt}, synced at ${syncedAt}`,
    );
  }
}

Deno.test("deletePrefix and truncateSuffix discard removed segments once the removal is durable", async () => {
  const fs = new RecordingFileSystem();
  const log = await SegmentLog.open(dir, options(fs));
  await log.appendDurable(makeEntries(1, 60));
  fs.events.length = 0;
  await log.deletePrefix(30);
  await log.truncateSuffix(50);
  assertDiscardedAfterSync(fs.segmentEvents(dir), 4);
  await log.close();
});

Deno.test("resetTo discards every segment after syncing the directory", async () => {
  const fs = new RecordingFileSystem();
  const log = await SegmentLog.open(dir, options(fs));
  await log.appendDurable(makeEntries(1, 30));
  fs.events.length = 0;
  await log.resetTo(100, 3);
  assertDiscardedAfterSync(fs.segmentEvents(dir), 3);
  await log.close();
});

/** A handle that records its calls; `discard` resolves when `release` is called. */
function fakeHandle(path: string, calls: string[]) {
  let release!: (error?: Error) => void;
  const discarded = new Promise<void>((resolve, reject) => {
    release = (error) => (error === undefined ? resolve() : reject(error));
  });
  const handle = {
    path,
    close: () => void calls.push(`close ${path}`),
    discard: () => {
      calls.push(`discard ${path}`);
      return discarded;
    },
  } as unknown as FileHandle;
  return { handle, release };
}

Deno.test("RemovedFiles: a failed directory sync closes the waiting handles and fails", async () => {
  const calls: string[] = [];
  const removed = new RemovedFiles();
  removed.add(fakeHandle("a", calls).handle);
  await assert.rejects(removed.afterDirectorySync(Promise.reject(new Error("EIO"))), /EIO/);
  assert.deepEqual(calls, ["close a"]);
  await removed.settle(); // nothing left
  assert.deepEqual(calls, ["close a"]);
});

Deno.test("RemovedFiles: settle closes what waits, waits for discards and reports a failed one", async () => {
  const calls: string[] = [];
  const removed = new RemovedFiles();
  const a = fakeHandle("a", calls);
  const b = fakeHandle("b", calls);
  removed.add(a.handle);
  removed.add(b.handle);
  await removed.afterDirectorySync(Promise.resolve());
  removed.add(fakeHandle("c", calls).handle); // removed after that sync: still waiting
  let settled = false;
  const settling = removed.settle().then(() => (settled = true), (error) => error);
  await Promise.resolve();
  assert.deepEqual(calls, ["discard a", "discard b", "close c"]);
  a.release();
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(settled, false, "b is still being discarded");
  b.release(new Error("Bad resource ID"));
  assert.match(String(await settling), /Bad resource ID/);
});

Deno.test("a real removed file is cut to 0 bytes by discard, and its handle closed", async () => {
  const real = new RealFileSystem();
  const temp = real.makeTempDir("cmqd-removed-");
  try {
    const path = joinPath(temp, "segment");
    const first = real.open(path, { create: true });
    first.writeSync(new Uint8Array(256 * 1024).fill(7));
    await first.syncData();
    const second = real.open(path); // the same file, to look at it once it is removed
    real.remove(path);
    await first.discard();
    assert.equal(second.readSync(0, new Uint8Array(16)), 0, "the file was cut");
    assert.throws(() => first.readSync(0, new Uint8Array(16)), "the handle is closed");
    second.close();
  } finally {
    real.removeTree(temp);
  }
});
