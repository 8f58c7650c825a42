/**
 * A file system, and a file handle, that forward every call to another one. Extend them to
 * observe or hold back one kind of call (tests record removals and directory syncs, or delay
 * fsyncs) without writing out the whole interface again.
 *
 * @module
 */
import type { FileHandle, FileSystem, MappedRegion } from "./file_io.ts";

/** A handle forwarding every call to `inner`. */
export class ForwardingFileHandle implements FileHandle {
  constructor(readonly inner: FileHandle) {}

  get path(): string {
    return this.inner.path;
  }
  size(): number {
    return this.inner.size();
  }
  writeSync(bytes: Uint8Array): void {
    this.inner.writeSync(bytes);
  }
  readSync(position: number, target: Uint8Array): number {
    return this.inner.readSync(position, target);
  }
  syncData(): Promise<void> {
    return this.inner.syncData();
  }
  syncDataSync(): void {
    this.inner.syncDataSync();
  }
  truncate(lengthBytes: number): void {
    this.inner.truncate(lengthBytes);
  }
  close(): void {
    this.inner.close();
  }
  discard(): Promise<void> {
    return this.inner.discard();
  }
  map(lengthBytes: number): MappedRegion | null {
    return this.inner.map(lengthBytes);
  }
}

/**
 * A file system forwarding every call to `inner`; the handles `open` returns go through
 * `wrap` (the inner handle itself unless overridden).
 *
 * @example
 * ```ts
 * class CountedSyncs extends ForwardingFileSystem {
 *   syncs = 0;
 *   override syncDir(path: string) {
 *     this.syncs++;
 *     return super.syncDir(path);
 *   }
 * }
 * ```
 */
export class ForwardingFileSystem implements FileSystem {
  constructor(readonly inner: FileSystem) {}

  open(path: string, options?: { create?: boolean }): FileHandle {
    return this.wrap(this.inner.open(path, options));
  }
  /** What `open` hands out for `handle`. */
  protected wrap(handle: FileHandle): FileHandle {
    return handle;
  }
  readDir(path: string): string[] {
    return this.inner.readDir(path);
  }
  remove(path: string): void {
    this.inner.remove(path);
  }
  rename(from: string, to: string): void {
    this.inner.rename(from, to);
  }
  mkdirp(path: string): void {
    this.inner.mkdirp(path);
  }
  exists(path: string): boolean {
    return this.inner.exists(path);
  }
  syncDir(path: string): Promise<void> {
    return this.inner.syncDir(path);
  }

  syncDirSync(path: string): void {
    this.inner.syncDirSync(path);
  }
}
