/**
 * Keys taken away while a request waits: a long poll verified its key when it arrived, but a
 * SIGHUP reload may remove that key, change its secret or narrow its permissions before messages
 * come. Such a poll must end at once and answer no message (README, "Security"). A door builds
 * the poll's abort signal with `untilKeysChange` and checks `keyStillAllows` before it answers.
 *
 * @module
 */
import type { AccessKey, Action, KeyRing, ResourceKind } from "./types.ts";

/**
 * True when the ring still serves `key` (a key with its secretId and secret key) and that key
 * may do `action` on the `kind` resource `name`. Without a ring or a key (no credentials file)
 * everything is allowed, as the doors' first checks allow it.
 *
 * @example
 * ```ts
 * const result = await service.receiveMessages(queue, request, aborts);
 * if (!keyStillAllows(keyRing, key, "queue", queue, "receive")) throw refused();
 * ```
 */
export function keyStillAllows(
  keyRing: KeyRing | null,
  key: AccessKey | null | undefined,
  kind: ResourceKind,
  name: string,
  action: Action,
): boolean {
  if (keyRing === null || key === null || key === undefined) return true;
  const current = keyRing.find(key.secretId);
  if (current === undefined) return false;
  if (current !== key && current.secretKey !== key.secretKey) return false;
  return keyRing.allows(current, kind, name, action);
}

/**
 * The signal a long poll waits with: `signal()` (the client went away), or the ring's keys
 * changing. Read lazily, as the service reads a receive's signal only once it has to wait.
 * A reload that leaves the key as it was ends the poll too (it answers no message, as at its
 * deadline); the door then finds the key unchanged and answers normally.
 *
 * @example
 * ```ts
 * const aborts = untilKeysChange(() => request.signal, keyRing);
 * await service.receiveMessages(queue, request, aborts);
 * ```
 */
export function untilKeysChange(
  signal: () => AbortSignal,
  keyRing: KeyRing | null,
): { readonly signal: AbortSignal } {
  const changed = keyRing?.changed;
  if (changed === undefined) {
    return {
      get signal() {
        return signal();
      },
    };
  }
  let merged: AbortSignal | undefined;
  return {
    get signal() {
      return merged ??= AbortSignal.any([signal(), changed]);
    },
  };
}
