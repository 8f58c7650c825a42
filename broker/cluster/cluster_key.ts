/**
 * The cluster key: one secret every member of a cluster holds. Peers prove it to each other
 * before any Raft message counts (the transport's handshake), and a node started with `--join`
 * signs its requests to the member it asks with it (`cluster_request_auth.ts`).
 *
 * The key is text — `openssl rand -hex 32` makes a good one — read from a file that other users
 * can't read, write or execute, or from `CMQD_CLUSTER_KEY`. Surrounding whitespace (a trailing newline) is not
 * part of it.
 *
 * @module
 */

import { othersMayDo, readSmallTextFile } from "../auth/mod.ts";
import { clusterKeyCharsMax, clusterKeyCharsMin, clusterKeyEnv } from "./config.ts";

/** The file operations the loader needs (`Deno`'s in production). */
export interface KeyFileAccess {
  /** The whole file as text. */
  readTextFile(path: string): Promise<string>;
  /** `mode` is null where the platform has no permission bits (Windows). */
  stat(path: string): Promise<{ mode: number | null; isFile: boolean }>;
}

/** Bytes of a key file read at most (a key is far smaller; a wrong path might not be). */
const keyFileBytesMax = 16 * 1024;

const denoAccess: KeyFileAccess = {
  readTextFile: (path) => readSmallTextFile(path, keyFileBytesMax),
  stat: (path) => Deno.stat(path),
};

/**
 * The cluster key from `--cluster-key-file` or `CMQD_CLUSTER_KEY` (null when neither is given).
 * Throws with a message that says what to fix: a missing or unreadable file, a file other users
 * may read or write (the message says which), a key too short or too long.
 *
 * @example
 * ```ts
 * const key = await loadClusterKey({ file: "/etc/cmqd/cluster.key", text: null });
 * ```
 */
export async function loadClusterKey(
  source: { file: string | null; text: string | null },
  access: KeyFileAccess = denoAccess,
): Promise<Uint8Array | null> {
  if (source.file === null) {
    return source.text === null ? null : checkedKey(source.text, clusterKeyEnv);
  }
  const path = source.file;
  let info;
  try {
    info = await access.stat(path);
  } catch (error) {
    throw new Error(`cluster key file ${path}: ${(error as Error).message}`);
  }
  if (!info.isFile) throw new Error(`cluster key file ${path} is not a file`);
  const othersMay = info.mode === null ? null : othersMayDo(info.mode);
  if (info.mode !== null && othersMay !== null) {
    throw new Error(
      `cluster key file ${path} can be ${othersMay} by other users (mode ${
        (info.mode & 0o777).toString(8)
      }); run: chmod 600 ${path}`,
    );
  }
  let text;
  try {
    text = await access.readTextFile(path);
  } catch (error) {
    throw new Error(`cluster key file ${path}: cannot read it (${(error as Error).message})`);
  }
  if (text.length > keyFileBytesMax) {
    throw new Error(`cluster key file ${path} is not a key (over ${keyFileBytesMax} bytes)`);
  }
  return checkedKey(text, `cluster key file ${path}`);
}

function checkedKey(text: string, source: string): Uint8Array {
  const key = text.trim();
  if (key.length < clusterKeyCharsMin || key.length > clusterKeyCharsMax) {
    throw new Error(
      `${source}: a cluster key has ${clusterKeyCharsMin}–${clusterKeyCharsMax} characters, ` +
        `got ${key.length} (make one with: openssl rand -hex 32)`,
    );
  }
  return new TextEncoder().encode(key);
}

/**
 * A new random key as text (64 hex characters), for tools that set up a cluster
 * (`deno task cluster`).
 */
export function newClusterKeyText(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}
