/**
 * The shape every door uses to check who is calling: a key ring loaded from the credentials file
 * (one loader for every door) and the permission check. With no credentials file configured the
 * broker has no key ring (protected mode) and doors skip these checks.
 *
 * @module
 */

/** What a permission names: `kind:nameGlob:action`. */
export type ResourceKind = "queue" | "topic" | "cluster";

/**
 * Actions per kind. queue: `send`; `receive` (receive, delete, change visibility); `manage`
 * (create, update, delete, purge, rewind, redrive); `read` (get, list). topic: `publish`,
 * `manage`, `read`. cluster: `manage` (membership), `read` (`/v1/cluster`).
 */
export type Action = "send" | "receive" | "manage" | "read" | "publish";

/** One access key of the credentials file. */
export interface AccessKey {
  readonly secretId: string;
  readonly secretKey: string;
  /** The permissions as written in the file (`"*"`, `"queue:images:receive"`, ...). */
  readonly allow: readonly string[];
}

/**
 * The live set of keys. It may be replaced in place when the file is re-read (SIGHUP), so a door
 * holds the ring itself, never a copy of its keys.
 */
export interface KeyRing {
  /** The key with this secret id, or undefined. */
  find(secretId: string): AccessKey | undefined;
  /** True when `key` may do `action` on the `kind` resource called `name` ("" for cluster). */
  allows(key: AccessKey, kind: ResourceKind, name: string, action: Action): boolean;
  /**
   * Aborts when the keys are replaced (a reload), so that a request waiting with a key (a long
   * poll) can check it again (`keyStillAllows`). Absent: the keys never change.
   */
  readonly changed?: AbortSignal;
}
