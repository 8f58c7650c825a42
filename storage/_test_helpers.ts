/**
 * Helpers shared by the storage tests: entry factories and the file systems every shared test
 * body runs against (nats-filestore style: one body, several stores).
 *
 * @module
 */
import { type FileHandle, type FileSystem, joinPath, RealFileSystem } from "./file_io.ts";
import { ForwardingFileHandle, ForwardingFileSystem } from "./forwarding_file_system.ts";
import type { LogEntry } from "./record.ts";
import { SimFileSystem } from "./sim_file_system.ts";

/** A file system under test, with its directory and how to clean up. */
export interface StoreUnderTest {
  name: string;
  fs: FileSystem;
  dir: string;
  mmap: boolean;
  cleanup(): void;
}

/** Real files with mmap reads, real files with pread reads, and the simulated file system. */
export function storesUnderTest(): StoreUnderTest[] {
  const real = new RealFileSystem();
  const mappedDir = real.makeTempDir("cmqd-storage-mmap-");
  const preadDir = real.makeTempDir("cmqd-storage-pread-");
  return [
    {
      name: "real files read through mmap",
      fs: real,
      dir: joinPath(mappedDir, "log"),
      mmap: true,
      cleanup: () => real.removeTree(mappedDir),
    },
    {
      name: "real files read with pread",
      fs: real,
      dir: joinPath(preadDir, "log"),
      mmap: false,
      cleanup: () => real.removeTree(preadDir),
    },
    {
      name: "simulated files",
      fs: new SimFileSystem(),
      dir: "/data/log",
      mmap: true,
      cleanup: () => {},
    },
  ];
}

/** Deterministic payload bytes for entry `index`. */
export function payloadFor(index: number, bytes: number): Uint8Array {
  const payload = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) payload[i] = (index * 31 + i * 7) & 0xff;
  return payload;
}

/** `count` entries from `from`, with payload sizes cycling through a few values. */
export function makeEntries(
  from: number,
  count: number,
  options: { term?: number; payloadBytes?: number; timestampOf?: (index: number) => number } = {},
): LogEntry[] {
  const entries: LogEntry[] = [];
  for (let index = from; index < from + count; index++) {
    const bytes = options.payloadBytes ?? 50 + ((index * 37) % 200);
    entries.push({
      term: options.term ?? 1,
      index,
      timestamp: options.timestampOf?.(index) ?? 1_000_000 + index * 10,
      type: index % 3,
      payload: payloadFor(index, bytes),
    });
  }
  return entries;
}

/** Rewrites a file with one byte's bit flipped, through the FileSystem interface only. */
export function flipBitThroughInterface(fs: FileSystem, path: string, offset: number): void {
  const handle = fs.open(path);
  const bytes = new Uint8Array(handle.size());
  handle.readSync(0, bytes);
  handle.close();
  bytes[offset] ^= 0x10;
  fs.remove(path);
  const rewritten = fs.open(path, { create: true });
  rewritten.writeSync(bytes);
  rewritten.close();
}

/** Appends raw bytes to a file through the FileSystem interface. */
export function appendGarbage(fs: FileSystem, path: string, bytes: Uint8Array): void {
  const handle = fs.open(path);
  handle.writeSync(bytes);
  handle.close();
}

/** Runs `body` once per store (real+mmap, real+pread, simulated), each in a fresh directory. */
export function testEveryStore(
  name: string,
  body: (store: StoreUnderTest) => Promise<void>,
): void {
  Deno.test(name, async (t) => {
    for (const store of storesUnderTest()) {
      await t.step(store.name, async () => {
        try {
          await body(store);
        } finally {
          store.cleanup();
        }
      });
    }
  });
}

/**
 * Records the distinct array buffers that reads of segment files (`.log`) land in: a reader
 * that reuses its buffer shows a handful whatever it reads, one that allocates per read one each.
 */
export class ReadBufferRecordingFileSystem extends ForwardingFileSystem {
  readonly buffers = new Set<ArrayBufferLike>();
  reads = 0;

  protected override wrap(handle: FileHandle): FileHandle {
    if (!handle.path.endsWith(".log")) return handle;
    const record = (target: Uint8Array) => {
      this.buffers.add(target.buffer);
      this.reads++;
    };
    return new class extends ForwardingFileHandle {
      override readSync(position: number, target: Uint8Array): number {
        record(target);
        return super.readSync(position, target);
      }
    }(handle);
  }

  /** Forgets what was recorded so far. */
  reset(): void {
    this.buffers.clear();
    this.reads = 0;
  }
}

/** Holds the `syncData` of the files whose path ends with a held suffix until released. */
export class HeldSyncs extends ForwardingFileSystem {
  readonly #held = new Map<string, PromiseWithResolvers<void>>();

  hold(suffix: string): void {
    this.#held.set(suffix, Promise.withResolvers<void>());
  }

  release(suffix: string): void {
    this.#held.get(suffix)?.resolve();
    this.#held.delete(suffix);
  }

  #gate(path: string): Promise<void> | undefined {
    for (const [suffix, { promise }] of this.#held) if (path.endsWith(suffix)) return promise;
    return undefined;
  }

  protected override wrap(handle: FileHandle): FileHandle {
    const gate = (path: string) => this.#gate(path);
    return new class extends ForwardingFileHandle {
      override async syncData(): Promise<void> {
        await gate(this.path);
        await super.syncData();
      }
    }(handle);
  }
}

/** Lets `count` turns of the event loop pass. */
export async function ticks(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}
