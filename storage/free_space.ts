/**
 * Free space of the file system holding a path, through `statvfs(3)` in libc over Deno FFI (Deno
 * has no `statfs`). What an unprivileged writer may still use: `f_bavail × f_frsize` — root may
 * dip into the reserved blocks too, but the broker should stop before anyone has to.
 *
 * `struct statvfs` on 64-bit Linux (glibc and musl alike): eleven 8-byte fields — bsize, frsize,
 * blocks, bfree, bavail, files, ffree, favail, fsid, flag, namemax — then six spare ints: 112
 * bytes. The buffer is bigger to be safe.
 *
 * @module
 */

const symbols = {
  statvfs: { parameters: ["buffer", "buffer"], result: "i32" },
} as const;

let libc: Deno.DynamicLibrary<typeof symbols> | null | undefined;

function loadLibc(): Deno.DynamicLibrary<typeof symbols> | null {
  if (libc !== undefined) return libc;
  try {
    libc = Deno.dlopen("libc.so.6", symbols);
  } catch {
    libc = null;
  }
  return libc;
}

/** Whether {@link freeDiskBytes} can answer here (Linux 64-bit, FFI permitted, libc loadable). */
export function freeSpaceAvailable(): boolean {
  try {
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return false;
  } catch {
    return false;
  }
  return Deno.build.os === "linux" && loadLibc() !== null;
}

/**
 * Bytes free for unprivileged writers on the file system that holds `path`.
 * Throws when it cannot be read (see {@link freeSpaceAvailable}) or `statvfs` fails.
 *
 * @example
 * ```ts
 * freeDiskBytes("./data") / 2 ** 20; // MiB free
 * ```
 */
export function freeDiskBytes(path: string): number {
  const library = freeSpaceAvailable() ? loadLibc() : null;
  if (library === null) {
    throw new Error("free disk space is not readable here (needs FFI on Linux)");
  }
  const buffer = new BigUint64Array(32);
  const status = library.symbols.statvfs(new TextEncoder().encode(`${path}\0`), buffer);
  if (status !== 0) throw new Error(`statvfs(${path}) failed`);
  const fragmentBytes = buffer[1];
  const availableBlocks = buffer[4];
  return Number(availableBlocks * fragmentBytes);
}
