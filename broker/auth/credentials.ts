/**
 * The credentials file (README, "Security"), parsed strictly: anything unexpected is refused with
 * a message naming its place (`keys[2].allow[0]: unknown action 'write' for kind queue ...`),
 * because a typo in this file silently grants or withholds access.
 *
 * ```json
 * {"keys": [{"secretId": "AKIDadmin", "secretKey": "…", "allow": ["*"]},
 *           {"secretId": "AKIDworker", "secretKey": "…", "allow": ["queue:images:receive"]}]}
 * ```
 *
 * Rules beyond the grammar of `permissions.ts`:
 * - the top level has exactly the field `keys`, each key exactly `secretId`, `secretKey`, `allow`;
 * - `keys` holds 1–10,000 keys (an empty list would lock every client out: run without a
 *   credentials file for that instead); `secretId`s are unique;
 * - `secretId`: 1–128 of letters, digits, `.`, `_`, `-` (it travels in headers and is split at
 *   `:` and `,`); `secretKey`: 1–256 visible ASCII characters, no spaces (it travels in a
 *   `Bearer` header); `allow`: 0–256 permissions (an empty list disables a key without removing
 *   it).
 *
 * JSON itself keeps only the last of two equal field names; such duplicates are not detected.
 *
 * @module
 */
import { CredentialsError } from "./errors.ts";
import { compilePermission, type Permission, permissionsAllow, quote } from "./permissions.ts";
import type { AccessKey, Action, ResourceKind } from "./types.ts";

/** The bounds of a credentials file. */
export const credentialsLimits = {
  /** A larger file is refused before parsing: it is surely not a credentials file. */
  credentialsCharsMax: 4 * 1024 * 1024,
  keysMax: 10_000,
  permissionsPerKeyMax: 256,
  secretIdCharsMax: 128,
  secretKeyCharsMax: 256,
} as const;

const secretIdPattern = /^[A-Za-z0-9._-]+$/;
const secretKeyPattern = /^[\x21-\x7e]+$/;
const keyFields = ["secretId", "secretKey", "allow"] as const;

/**
 * A key as loaded from the file, with its permissions compiled. Its secret key is hidden from
 * `console.log` and `JSON.stringify`, so logging a key can't leak it.
 */
export class LoadedAccessKey implements AccessKey {
  readonly secretId: string;
  readonly secretKey: string;
  readonly allow: readonly string[];
  readonly #permissions: readonly Permission[];

  constructor(secretId: string, secretKey: string, permissions: ReadonlyMap<string, Permission>) {
    this.secretId = secretId;
    this.secretKey = secretKey;
    this.allow = Object.freeze([...permissions.keys()]);
    this.#permissions = Object.freeze([...permissions.values()]);
  }

  /** True when this key may do `action` on the `kind` resource `name` ("" for cluster). */
  allows(kind: ResourceKind, name: string, action: Action): boolean {
    return permissionsAllow(this.#permissions, kind, name, action);
  }

  /** What `JSON.stringify` shows: everything but the secret key. */
  toJSON(): { secretId: string; secretKey: string; allow: readonly string[] } {
    return { secretId: this.secretId, secretKey: "<redacted>", allow: this.allow };
  }

  [Symbol.for("Deno.customInspect")](): string {
    return `AccessKey ${JSON.stringify(this)}`;
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `AccessKey ${JSON.stringify(this)}`;
  }
}

/**
 * Parses and checks the text of a credentials file. Throws `CredentialsError` naming the first
 * offending place. The keys carry their permissions compiled, for `FileKeyRing.allows`.
 *
 * @example
 * ```ts
 * const keys = parseCredentials(
 *   '{"keys":[{"secretId":"AKIDworker","secretKey":"s3cret","allow":["queue:images:receive"]}]}',
 * );
 * keys[0].secretId; // "AKIDworker"
 * ```
 */
export function parseCredentials(text: string): AccessKey[] {
  return parseAccessKeys(text);
}

/** `parseCredentials` with the room-internal type of its keys (used by `FileKeyRing`). */
export function parseAccessKeys(text: string): LoadedAccessKey[] {
  const limits = credentialsLimits;
  if (text.length > limits.credentialsCharsMax) {
    throw new CredentialsError(
      `credentials file: larger than ${limits.credentialsCharsMax} characters`,
    );
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new CredentialsError(`credentials file: not valid JSON (${reason})`, { cause: error });
  }
  const root = expectFields(document, "credentials file", ["keys"]);
  const keys = root.keys;
  if (!Array.isArray(keys)) throw new CredentialsError("keys: expected an array of keys");
  if (keys.length === 0) {
    throw new CredentialsError(
      "keys: expected at least one key (to serve without keys, run without a credentials file)",
    );
  }
  if (keys.length > limits.keysMax) {
    throw new CredentialsError(`keys: more than ${limits.keysMax} keys (${keys.length})`);
  }
  const placeById = new Map<string, string>();
  return keys.map((entry, index) => parseKey(entry, `keys[${index}]`, placeById));
}

function parseKey(
  entry: unknown,
  place: string,
  placeById: Map<string, string>,
): LoadedAccessKey {
  const fields = expectFields(entry, place, keyFields);
  const secretId = parseSecretId(fields.secretId, `${place}.secretId`);
  const earlierPlace = placeById.get(secretId);
  if (earlierPlace !== undefined) {
    throw new CredentialsError(
      `${place}.secretId: ${quote(secretId)} is already used by ${earlierPlace}`,
    );
  }
  placeById.set(secretId, place);
  const secretKey = parseSecretKey(fields.secretKey, `${place}.secretKey`);
  const permissions = parseAllow(fields.allow, `${place}.allow`);
  return new LoadedAccessKey(secretId, secretKey, permissions);
}

function parseSecretId(value: unknown, place: string): string {
  const charsMax = credentialsLimits.secretIdCharsMax;
  if (typeof value !== "string") throw new CredentialsError(`${place}: expected a string`);
  if (value.length === 0 || value.length > charsMax) {
    throw new CredentialsError(`${place}: must be 1–${charsMax} characters, got ${value.length}`);
  }
  if (!secretIdPattern.test(value)) {
    throw new CredentialsError(`${place}: may contain only letters, digits, '.', '_' and '-'`);
  }
  return value;
}

/** Like `parseSecretId`, but its messages never show the value. */
function parseSecretKey(value: unknown, place: string): string {
  const charsMax = credentialsLimits.secretKeyCharsMax;
  if (typeof value !== "string") throw new CredentialsError(`${place}: expected a string`);
  if (value.length === 0 || value.length > charsMax) {
    throw new CredentialsError(`${place}: must be 1–${charsMax} characters, got ${value.length}`);
  }
  if (!secretKeyPattern.test(value)) {
    throw new CredentialsError(`${place}: may contain only visible ASCII characters, no spaces`);
  }
  return value;
}

/** The permissions by their text; a permission written twice is kept once. */
function parseAllow(value: unknown, place: string): Map<string, Permission> {
  const permissionsMax = credentialsLimits.permissionsPerKeyMax;
  if (!Array.isArray(value)) throw new CredentialsError(`${place}: expected an array of strings`);
  if (value.length > permissionsMax) {
    throw new CredentialsError(
      `${place}: more than ${permissionsMax} permissions (${value.length})`,
    );
  }
  const permissions = new Map<string, Permission>();
  value.forEach((text: unknown, index) => {
    if (typeof text !== "string") {
      throw new CredentialsError(`${place}[${index}]: expected a string`);
    }
    const permission = compilePermission(text);
    if (typeof permission === "string") {
      throw new CredentialsError(`${place}[${index}]: ${permission}`);
    }
    permissions.set(text, permission);
  });
  return permissions;
}

/** Checks that `value` is a plain object with exactly the `expected` fields. */
function expectFields<Field extends string>(
  value: unknown,
  place: string,
  expected: readonly Field[],
): Record<Field, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new CredentialsError(`${place}: expected an object with ${expected.join(", ")}`);
  }
  for (const field of Object.keys(value)) {
    if (!(expected as readonly string[]).includes(field)) {
      throw new CredentialsError(
        `${place}: unknown field ${quote(field)} (expected ${expected.join(", ")})`,
      );
    }
  }
  for (const field of expected) {
    if (!Object.hasOwn(value, field)) {
      throw new CredentialsError(`${place}: missing field '${field}'`);
    }
  }
  return value as Record<Field, unknown>;
}
