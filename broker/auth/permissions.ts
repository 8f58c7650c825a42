/**
 * Permissions of the credentials file, compiled once when the file is loaded so that the check
 * on every request's path allocates nothing and builds no RegExp.
 *
 * Grammar (README, "Security"): `*` (everything) or `kind:nameGlob:action` with
 * - kinds and their actions: `queue` (send, receive, manage, read), `topic` (publish, manage,
 *   read), `cluster` (manage, read); no action implies another (`manage` does not grant `read`);
 * - `nameGlob`: 1–64 characters of letters, digits, `-`, `_` and `*`, where `*` matches any run
 *   of characters (also none) and everything else matches itself; other characters can never
 *   occur in a name, so a glob holding them is a typo and refused;
 * - cluster has no name: `cluster:manage` / `cluster:read`, or `cluster:*:manage` /
 *   `cluster:*:read` for symmetry with the other kinds. The broker asks with the name "".
 *
 * @module
 */
import type { AccessKey, Action, KeyRing, ResourceKind } from "./types.ts";

/** The actions each kind has, in the order error messages list them. */
export const actionsByKind: Readonly<Record<ResourceKind, readonly Action[]>> = {
  queue: ["send", "receive", "manage", "read"],
  topic: ["publish", "manage", "read"],
  cluster: ["manage", "read"],
};

/** Resource names are at most 64 characters (the API contract), so a longer glob is a mistake. */
export const nameGlobCharsMax = 64;

const nameGlobPattern = /^[A-Za-z0-9_*-]+$/;

/** A compiled permission: `everything` for `*`, else one kind, one action and a name glob. */
export type Permission =
  | { readonly everything: true }
  | {
    readonly everything: false;
    readonly kind: ResourceKind;
    readonly action: Action;
    /** The glob split at each `*`: one part means no `*` (an exact name). */
    readonly globParts: readonly string[];
  };

/**
 * Compiles one permission string, or returns what is wrong with it (a message without the
 * place, which the caller knows).
 *
 * @example
 * ```ts
 * const permission = compilePermission("queue:images-*:receive");
 * if (typeof permission === "string") throw new Error(permission);
 * permissionsAllow([permission], "queue", "images-raw", "receive"); // true
 * ```
 */
export function compilePermission(text: string): Permission | string {
  if (text === "*") return { everything: true };
  if (text === "") return "empty permission (expected '*' or kind:nameGlob:action)";
  const parts = text.split(":");
  const kind = parts[0];
  if (!isResourceKind(kind)) {
    return `unknown kind ${quote(kind)} (expected queue, topic or cluster)`;
  }
  if (kind === "cluster" && parts.length === 2) return compileAction(kind, "*", parts[1]);
  if (parts.length !== 3) {
    return `expected '*' or kind:nameGlob:action, got ${quote(text)}`;
  }
  const glob = parts[1];
  if (glob === "") return `empty name glob in ${quote(text)}`;
  if (glob.length > nameGlobCharsMax) {
    return `name glob longer than ${nameGlobCharsMax} characters in ${quote(text)}`;
  }
  if (!nameGlobPattern.test(glob)) {
    return `name glob ${quote(glob)} may contain only letters, digits, '-', '_' and '*'`;
  }
  if (kind === "cluster" && glob !== "*") {
    return "cluster permissions take no name: write 'cluster:<action>' or 'cluster:*:<action>'";
  }
  return compileAction(kind, glob, parts[2]);
}

function compileAction(kind: ResourceKind, glob: string, action: string): Permission | string {
  const actions = actionsByKind[kind];
  if (!(actions as readonly string[]).includes(action)) {
    return `unknown action ${quote(action)} for kind ${kind} (expected ${listWords(actions)})`;
  }
  return { everything: false, kind, action: action as Action, globParts: glob.split("*") };
}

/**
 * True when one of `permissions` grants `action` on the `kind` resource called `name`.
 *
 * @example
 * ```ts
 * const permission = compilePermission("topic:*:publish") as Permission;
 * permissionsAllow([permission], "topic", "orders", "publish"); // true
 * permissionsAllow([permission], "topic", "orders", "manage"); // false
 * ```
 */
export function permissionsAllow(
  permissions: readonly Permission[],
  kind: ResourceKind,
  name: string,
  action: Action,
): boolean {
  for (const permission of permissions) {
    if (permission.everything) return true;
    if (
      permission.kind === kind && permission.action === action &&
      globMatches(permission.globParts, name)
    ) {
      return true;
    }
  }
  return false;
}

/**
 * Whether `name` matches the glob whose `*`-separated parts are `parts`. The first part must be
 * a prefix, the last a suffix, and the middle parts must occur in order between them; taking
 * each middle part at its leftmost place is enough, since that leaves the most room for the
 * rest (no backtracking needed).
 */
export function globMatches(parts: readonly string[], name: string): boolean {
  const first = parts[0];
  if (parts.length === 1) return name === first;
  const last = parts[parts.length - 1];
  if (name.length < first.length + last.length) return false;
  if (!name.startsWith(first) || !name.endsWith(last)) return false;
  const end = name.length - last.length;
  let position = first.length;
  for (let index = 1; index < parts.length - 1; index++) {
    const part = parts[index];
    const found = name.indexOf(part, position);
    if (found === -1 || found + part.length > end) return false;
    position = found + part.length;
  }
  return true;
}

function isResourceKind(text: string): text is ResourceKind {
  return text === "queue" || text === "topic" || text === "cluster";
}

function listWords(words: readonly string[]): string {
  return words.length === 1
    ? words[0]
    : `${words.slice(0, -1).join(", ")} or ${words[words.length - 1]}`;
}

/** Quotes a value from a file or a request for a message: bounded, control characters escaped. */
export function quote(text: string): string {
  const shown = text.length > 64 ? `${text.slice(0, 64)}…` : text;
  // deno-lint-ignore no-control-regex
  return `'${shown.replace(/[\u0000-\u001f\u007f]/g, (character) => escapeControl(character))}'`;
}

function escapeControl(character: string): string {
  return `\\u${character.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

/**
 * A character no name glob can hold (globs hold letters, digits, `-`, `_` and `*`), used by
 * `allowsEveryNameWithPrefix`.
 */
const outsideGlobs = "\u0000";

/**
 * True when `key` may do `action` on **every** `kind` resource whose name starts with `prefix`:
 * what listing names needs, since a list must not show a name the key may not read. Exactly the
 * permissions of the form `kind:<p>*:action` with `<p>` a prefix of `prefix` (more generally,
 * any single glob that ends in `*` and matches `prefix` up to that star) grant it, and `*`.
 *
 * Why asking `allows` about `prefix + "\u0000"` decides it: no glob contains that character, so
 * a glob that matches the name must end in `*` (its last part, a suffix of the name, can't hold
 * the character, so it is empty), and its other parts all match inside `prefix`; the same match
 * then works for `prefix` followed by anything. Conversely a glob matching every such name
 * matches this one. (Several permissions that cover the prefix only together are not
 * recognised; the answer is then a conservative false.)
 *
 * @example
 * ```ts
 * // key allows "queue:orders-*:read"
 * allowsEveryNameWithPrefix(keyRing, key, "queue", "orders-eu", "read"); // true
 * allowsEveryNameWithPrefix(keyRing, key, "queue", "", "read"); // false: would list all queues
 * ```
 */
export function allowsEveryNameWithPrefix(
  keyRing: KeyRing,
  key: AccessKey,
  kind: ResourceKind,
  prefix: string,
  action: Action,
): boolean {
  return keyRing.allows(key, kind, prefix + outsideGlobs, action);
}
