/**
 * Read-only memory maps of files through Deno FFI to libc.
 *
 * Safety rules kept here and by the callers:
 * - the `ArrayBuffer` over the mapping is detached (`transfer(0)`) before `munmap`, so a stale
 *   view reads as empty instead of faulting;
 * - callers never hand mapped bytes outside storage (reads return copies);
 * - callers unmap before truncating or removing a file (SIGBUS otherwise);
 * - only bytes below the file's current size are read, even when the mapping is longer.
 *
 * @module
 */
import assert from "node:assert/strict";
import { invariant } from "./invariant.ts";

/** A mapped byte range of a file. */
export interface MappedRegion {
  /** The mapped bytes; valid until {@link MappedRegion.unmap}. Never write to it. */
  readonly bytes: Uint8Array;
  /** Detaches the bytes and releases the mapping; idempotent. */
  unmap(): void;
}

const protRead = 1;
const mapShared = 1;
const openReadOnly = 0;
const mapFailed = 0xffffffffffffffffn;

const libcSymbols = {
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  // On a thread of its own: a trim took 1–7 ms under load, a stall of every request when run on
  // the event loop.
  malloc_trim: { parameters: ["usize"], result: "i32", nonblocking: true },
} as const;

type Libc = Deno.DynamicLibrary<typeof libcSymbols>;
let libc: Libc | null | undefined;

/** The libc handle, or null when FFI is not permitted (asked every time: permissions can be
 * narrower for one test or worker) or libc cannot be loaded. */
function loadLibc(): Libc | null {
  try {
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return null;
  } catch {
    return null;
  }
  if (libc !== undefined) return libc;
  try {
    libc = Deno.dlopen("libc.so.6", libcSymbols);
  } catch {
    libc = null;
  }
  return libc;
}

/**
 * Gives the allocator's free memory back to the system (glibc `malloc_trim`). Array buffers live
 * in the C heap; after a replay or a burst of requests freed them, the heap keeps their pages
 * (fragmentation) and the RSS stays at its high-water mark. Runs off the event loop (a
 * nonblocking FFI call); resolves false when libc is not loadable.
 */
export async function trimAllocator(): Promise<boolean> {
  const library = loadLibc();
  if (library === null) return false;
  await library.symbols.malloc_trim(0n);
  return true;
}

/** True when {@link mapFile} can work in this process. */
export function mmapAvailable(): boolean {
  return loadLibc() !== null;
}

/**
 * Maps `lengthBytes` of the file at `path` read-only and shared, or returns null when FFI is
 * unavailable or the call fails. The length may exceed the file's size (the file may grow into
 * it); reading past the file's current end is what faults, so callers must not.
 */
export function mapFile(path: string, lengthBytes: number): MappedRegion | null {
  invariant(Number.isSafeInteger(lengthBytes) && lengthBytes > 0, "map length must be positive");
  const library = loadLibc();
  if (library === null) return null;
  const descriptor = library.symbols.open(new TextEncoder().encode(path + "\0"), openReadOnly, 0);
  if (descriptor < 0) return null;
  const length = BigInt(lengthBytes);
  const pointer = library.symbols.mmap(null, length, protRead, mapShared, descriptor, 0n);
  // The mapping holds its own reference to the file; the descriptor is not needed any more.
  library.symbols.close(descriptor);
  if (pointer === null || Deno.UnsafePointer.value(pointer) === mapFailed) return null;
  const buffer = Deno.UnsafePointerView.getArrayBuffer(pointer, lengthBytes);
  return new Mapping(library, { pointer, length, buffer });
}

class Mapping implements MappedRegion {
  readonly bytes: Uint8Array;
  #library: Libc;
  #pointer: Deno.PointerObject;
  #length: bigint;
  #buffer: ArrayBuffer;
  #mapped = true;

  constructor(
    library: Libc,
    parts: { pointer: Deno.PointerObject; length: bigint; buffer: ArrayBuffer },
  ) {
    this.#library = library;
    this.#pointer = parts.pointer;
    this.#length = parts.length;
    this.#buffer = parts.buffer;
    this.bytes = new Uint8Array(parts.buffer);
  }

  unmap(): void {
    if (!this.#mapped) return;
    this.#mapped = false;
    // Detach first: every view over the buffer becomes empty, so nothing can touch the pages
    // after munmap (a read there would kill the process with SIGSEGV).
    this.#buffer.transfer(0);
    const result = this.#library.symbols.munmap(this.#pointer, this.#length);
    assert.equal(result, 0, "munmap failed");
  }
}
