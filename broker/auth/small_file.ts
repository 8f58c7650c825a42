/**
 * Reading a small configuration file (the credentials file, TLS files, the cluster key) without
 * trusting its path: only a regular file (a symlink to one is fine) is read, and at most a bound
 * of bytes. A path naming `/dev/zero` once filled the heap until the process died, a FIFO
 * without a writer hung the start (or each SIGHUP reload) forever, and a file of gigabytes was
 * read whole before its size was refused.
 *
 * @module
 */

/**
 * The text of the regular file at `path` (UTF-8; a leading byte order mark is dropped). Rejects
 * with an `Error` whose message says what is wrong (`it is a FIFO, not a regular file`, `it is
 * larger than 4194304 bytes`), or with the file system's error when it can't be read.
 *
 * @example
 * ```ts
 * const text = await readSmallTextFile("/etc/cmqd/credentials.json", 4 * 1024 * 1024);
 * ```
 */
export async function readSmallTextFile(path: string, bytesMax: number): Promise<string> {
  const info = await Deno.stat(path);
  if (!info.isFile) throw new Error(`it is ${kindOf(info)}, not a regular file`);
  const tooLarge = () => new Error(`it is larger than ${bytesMax} bytes`);
  if (info.size > bytesMax) throw tooLarge();
  using file = await Deno.open(path, { read: true });
  // Read to the end (the file may have grown since the stat), never past the bound.
  const chunks: Uint8Array[] = [];
  let length = 0;
  while (true) {
    const chunk = new Uint8Array(Math.min(64 * 1024, bytesMax - length + 1));
    const read = await file.read(chunk);
    if (read === null) break;
    chunks.push(chunk.subarray(0, read));
    length += read;
    if (length > bytesMax) throw tooLarge();
  }
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return new TextDecoder().decode(bytes);
}

function kindOf(info: Deno.FileInfo): string {
  if (info.isDirectory) return "a directory";
  if (info.isFifo) return "a FIFO";
  if (info.isCharDevice) return "a character device";
  if (info.isBlockDevice) return "a block device";
  if (info.isSocket) return "a socket";
  return "not a file";
}

/**
 * What users other than a file's owner and group may do with it, by its `mode`, as words for a
 * message: `read`, `written`, `read and written`, `read, written and executed`, …; null when
 * they may do nothing.
 *
 * @example
 * ```ts
 * othersMayDo(0o642); // "written"
 * ```
 */
export function othersMayDo(mode: number): string | null {
  const verbs = [[0o004, "read"], [0o002, "written"], [0o001, "executed"]] as const;
  const may = verbs.filter(([bit]) => (mode & bit) !== 0).map(([, verb]) => verb);
  if (may.length === 0) return null;
  if (may.length === 1) return may[0];
  return `${may.slice(0, -1).join(", ")} and ${may[may.length - 1]}`;
}

/**
 * A warning when the secret file at `path` (the credentials file, a TLS private key) can be read,
 * written or executed by users other than its owner and group (the cluster key's loader refuses such a file; these
 * are only warned about, so that an existing deployment keeps starting), else null. A file that
 * can't be stat'ed is left to its loader to report.
 *
 * @example
 * ```ts
 * const warning = await secretFileWarning("credentials file", "/etc/cmqd/credentials.json");
 * if (warning !== null) console.error(`cmqd: ${warning}`);
 * ```
 */
export async function secretFileWarning(what: string, path: string): Promise<string | null> {
  let mode: number | null;
  try {
    mode = (await Deno.stat(path)).mode;
  } catch {
    return null;
  }
  const may = mode === null ? null : othersMayDo(mode);
  if (mode === null || may === null) return null;
  return `${what} ${path} can be ${may} by other users (mode ${(mode & 0o777).toString(8)}); ` +
    `run: chmod 600 ${path}`;
}
