/**
 * The key ring of a running broker: the credentials file, re-read on SIGHUP. A reload swaps the
 * whole set of keys in one assignment, and only when the new file is valid; a bad file leaves
 * the old keys serving, so a typo during an edit can't lock everyone out or open anything up.
 *
 * @module
 */
import { CredentialsError } from "./errors.ts";
import { credentialsLimits, LoadedAccessKey, parseAccessKeys } from "./credentials.ts";
import { compilePermission, type Permission, permissionsAllow } from "./permissions.ts";
import { readSmallTextFile } from "./small_file.ts";
import type { AccessKey, Action, KeyRing, ResourceKind } from "./types.ts";

/** Reads a whole text file (`readCredentialsFile` in production, a fake in tests). */
export type ReadTextFile = (path: string) => Promise<string>;

/**
 * Reads a credentials file: a regular file (a symlink to one is fine) of at most
 * `credentialsLimits.credentialsCharsMax` bytes (a valid one is ASCII), so that a path naming
 * `/dev/zero`, a FIFO or a huge file is refused rather than read forever.
 */
export const readCredentialsFile: ReadTextFile = (path) =>
  readSmallTextFile(path, credentialsLimits.credentialsCharsMax);

/**
 * A `KeyRing` loaded from a credentials file.
 *
 * @example
 * ```ts
 * const keyRing = await FileKeyRing.load("/etc/cmqd/credentials.json");
 * Deno.addSignal("SIGHUP", () => {
 *   keyRing.reload().then(
 *     (keyCount) => console.log(`credentials reloaded: ${keyCount} keys`),
 *     (error) => console.error(`credentials kept: ${error.message}`),
 *   );
 * });
 * const key = keyRing.find("AKIDworker");
 * if (key && keyRing.allows(key, "queue", "images", "receive")) {
 *   // serve the receive
 * }
 * ```
 */
export class FileKeyRing implements KeyRing {
  /** The credentials file this ring reads. */
  readonly path: string;
  readonly #readTextFile: ReadTextFile;
  /** Replaced as a whole on reload, never changed in place. */
  #keysById: ReadonlyMap<string, LoadedAccessKey>;
  /**
   * Reloads may overlap (two SIGHUPs in quick succession) and finish out of order; each takes a
   * ticket, and a reload that finishes after a later one was applied drops its older content.
   */
  #reloadsStarted = 0;
  #reloadApplied = 0;
  /** Aborted and replaced by each reload that swaps the keys (see `changed`). */
  #changes = new AbortController();
  /** Compiled permissions of keys that did not come from a file (see `allows`). */
  readonly #foreignPermissions = new WeakMap<AccessKey, readonly Permission[]>();

  private constructor(path: string, readTextFile: ReadTextFile, keys: LoadedAccessKey[]) {
    this.path = path;
    this.#readTextFile = readTextFile;
    this.#keysById = indexById(keys);
  }

  /**
   * Reads and checks the file. Rejects with `CredentialsError` (message prefixed with the path)
   * when it can't be read or is invalid.
   */
  static async load(
    path: string,
    readTextFile: ReadTextFile = readCredentialsFile,
  ): Promise<FileKeyRing> {
    const keys = await readKeys(path, readTextFile);
    return new FileKeyRing(path, readTextFile, keys);
  }

  /**
   * A ring over keys given in code (tests, embedded setups), checked exactly like a file's;
   * throws `CredentialsError` when one is invalid. `reload()` keeps them.
   *
   * @example
   * ```ts
   * const ring = FileKeyRing.fromKeys([{ secretId: "AKIDa", secretKey: "s", allow: ["*"] }]);
   * ```
   */
  static fromKeys(keys: readonly AccessKey[]): FileKeyRing {
    const text = JSON.stringify({
      keys: keys.map(({ secretId, secretKey, allow }) => ({ secretId, secretKey, allow })),
    });
    return new FileKeyRing("(inline keys)", () => Promise.resolve(text), parseAccessKeys(text));
  }

  /**
   * Re-reads the file and swaps in its keys when it is valid; resolves with the number of keys
   * now serving. Rejects with `CredentialsError` when the file can't be read or is invalid, and
   * the old keys stay.
   */
  async reload(): Promise<number> {
    const ticket = ++this.#reloadsStarted;
    const keys = await readKeys(this.path, this.#readTextFile);
    if (ticket > this.#reloadApplied) {
      this.#keysById = indexById(keys);
      this.#reloadApplied = ticket;
      const changes = this.#changes;
      this.#changes = new AbortController();
      changes.abort();
    }
    return this.#keysById.size;
  }

  /** Aborts when a reload swaps the keys; each reload has a new signal. */
  get changed(): AbortSignal {
    return this.#changes.signal;
  }

  /** The number of keys serving now. */
  get size(): number {
    return this.#keysById.size;
  }

  /** The keys serving now, in file order. */
  keys(): AccessKey[] {
    return [...this.#keysById.values()];
  }

  /** The key with this secret id, or undefined. */
  find(secretId: string): AccessKey | undefined {
    return this.#keysById.get(secretId);
  }

  /**
   * True when `key` may do `action` on the `kind` resource `name` ("" for cluster). Keys found
   * in this ring carry compiled permissions; any other `AccessKey` is compiled once and cached
   * (an invalid permission in it grants nothing).
   */
  allows(key: AccessKey, kind: ResourceKind, name: string, action: Action): boolean {
    if (key instanceof LoadedAccessKey) return key.allows(kind, name, action);
    let permissions = this.#foreignPermissions.get(key);
    if (permissions === undefined) {
      permissions = key.allow.map(compilePermission).filter(
        (permission): permission is Permission => typeof permission !== "string",
      );
      this.#foreignPermissions.set(key, permissions);
    }
    return permissionsAllow(permissions, kind, name, action);
  }
}

async function readKeys(path: string, readTextFile: ReadTextFile): Promise<LoadedAccessKey[]> {
  let text: string;
  try {
    text = await readTextFile(path);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new CredentialsError(`${path}: cannot read the credentials file (${reason})`, {
      cause: error,
    });
  }
  try {
    return parseAccessKeys(text);
  } catch (error) {
    if (!(error instanceof CredentialsError)) throw error;
    throw new CredentialsError(`${path}: ${error.message}`, { cause: error });
  }
}

function indexById(keys: readonly LoadedAccessKey[]): ReadonlyMap<string, LoadedAccessKey> {
  return new Map(keys.map((key) => [key.secretId, key]));
}
