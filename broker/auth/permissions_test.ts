import { strict as assert } from "node:assert";
import {
  actionsByKind,
  allowsEveryNameWithPrefix,
  compilePermission,
  globMatches,
  type Permission,
  permissionsAllow,
} from "./permissions.ts";
import { FileKeyRing } from "./file_key_ring.ts";
import type { Action, ResourceKind } from "./types.ts";

function compiled(...texts: string[]): Permission[] {
  return texts.map((text) => {
    const permission = compilePermission(text);
    if (typeof permission === "string") throw new Error(permission);
    return permission;
  });
}

/** Every (kind, action) pair the grammar knows. */
const allPairs: [ResourceKind, Action][] = (Object.keys(actionsByKind) as ResourceKind[])
  .flatMap((kind) => actionsByKind[kind].map((action): [ResourceKind, Action] => [kind, action]));

Deno.test("'*' allows every action of every kind on every name", () => {
  const everything = compiled("*");
  for (const [kind, action] of allPairs) {
    for (const name of ["orders", "a", "", "x-y_z"]) {
      assert.ok(permissionsAllow(everything, kind, name, action), `${kind} ${name} ${action}`);
    }
  }
});

Deno.test("a permission grants exactly its own kind and action, and no other", () => {
  for (const [kind, action] of allPairs) {
    const text = kind === "cluster" ? `cluster:${action}` : `${kind}:orders:${action}`;
    const permissions = compiled(text);
    const name = kind === "cluster" ? "" : "orders";
    for (const [otherKind, otherAction] of allPairs) {
      const expected = otherKind === kind && otherAction === action;
      assert.equal(
        permissionsAllow(permissions, otherKind, name, otherAction),
        expected,
        `${text} asked for ${otherKind} ${otherAction}`,
      );
    }
  }
});

Deno.test("manage does not imply read, and receive does not imply send", () => {
  const permissions = compiled("queue:orders:manage", "queue:orders:receive");
  assert.equal(permissionsAllow(permissions, "queue", "orders", "read"), false);
  assert.equal(permissionsAllow(permissions, "queue", "orders", "send"), false);
});

Deno.test("a name without '*' matches only itself", () => {
  const permissions = compiled("queue:orders:send");
  assert.ok(permissionsAllow(permissions, "queue", "orders", "send"));
  for (const name of ["order", "orders2", "xorders", "Orders", ""]) {
    assert.equal(permissionsAllow(permissions, "queue", name, "send"), false, name);
  }
});

Deno.test("globs match prefixes, suffixes, middles and runs of any length", () => {
  const cases: [glob: string, name: string, matches: boolean][] = [
    ["images-*", "images-", true],
    ["images-*", "images-raw", true],
    ["images-*", "images", false],
    ["*-dlq", "orders-dlq", true],
    ["*-dlq", "orders-dlq2", false],
    ["a*b*c", "abc", true],
    ["a*b*c", "aXbYbZc", true],
    ["a*b*c", "acb", false],
    ["*", "anything", true],
    ["**", "x", true],
    ["a*a", "a", false],
    ["a*a", "aa", true],
    ["ab*ba", "aba", false],
    ["*ab*", "xxaxbx", false],
  ];
  for (const [glob, name, matches] of cases) {
    assert.equal(
      permissionsAllow(compiled(`queue:${glob}:read`), "queue", name, "read"),
      matches,
      `${glob} ~ ${name}`,
    );
  }
});

Deno.test("the glob matcher agrees with a regular expression on every short glob and name", () => {
  const globs = stringsOver(["a", "b", "*"], 5);
  const names = stringsOver(["a", "b"], 6);
  for (const glob of globs) {
    const reference = new RegExp(`^${glob.replaceAll("*", ".*")}$`);
    const parts = glob.split("*");
    for (const name of names) {
      assert.equal(globMatches(parts, name), reference.test(name), `${glob} ~ ${name}`);
    }
  }
});

Deno.test("cluster permissions match the empty name, with or without '*'", () => {
  assert.ok(permissionsAllow(compiled("cluster:read"), "cluster", "", "read"));
  assert.ok(permissionsAllow(compiled("cluster:*:manage"), "cluster", "", "manage"));
  assert.equal(permissionsAllow(compiled("cluster:read"), "cluster", "", "manage"), false);
});

Deno.test("a queue glob does not grant the topic of the same name", () => {
  const permissions = compiled("queue:*:read");
  assert.equal(permissionsAllow(permissions, "topic", "orders", "read"), false);
});

Deno.test("several permissions grant the union of what each grants", () => {
  const permissions = compiled("queue:images:receive", "queue:results:send", "topic:ev-*:publish");
  assert.ok(permissionsAllow(permissions, "queue", "images", "receive"));
  assert.ok(permissionsAllow(permissions, "queue", "results", "send"));
  assert.ok(permissionsAllow(permissions, "topic", "ev-1", "publish"));
  assert.equal(permissionsAllow(permissions, "queue", "images", "send"), false);
  assert.equal(permissionsAllow([], "queue", "images", "send"), false);
});

/** All strings of length 0..lengthMax over `alphabet`. */
function stringsOver(alphabet: string[], lengthMax: number): string[] {
  let current = [""];
  const all = [""];
  for (let length = 1; length <= lengthMax; length++) {
    current = current.flatMap((prefix) => alphabet.map((letter) => prefix + letter));
    all.push(...current);
  }
  return all;
}

Deno.test("listing by prefix is allowed exactly when one permission covers every such name", async () => {
  const allow = ["queue:orders-*:read", "queue:*-dlq*:read", "queue:exact:read", "topic:*:read"];
  const text = JSON.stringify({ keys: [{ secretId: "a", secretKey: "k", allow }] });
  const keyRing = await FileKeyRing.load("creds.json", () => Promise.resolve(text));
  const key = keyRing.find("a")!;
  const cases: [prefix: string, allowed: boolean][] = [
    ["orders-", true],
    ["orders-eu", true],
    ["orders", false], // "ordersX" is not covered
    ["", false],
    ["x-dlq", true], // every name starting with "x-dlq" matches "*-dlq*"
    ["x-dl", false],
    ["exact", false], // "exact2" is not covered
  ];
  for (const [prefix, allowed] of cases) {
    assert.equal(allowsEveryNameWithPrefix(keyRing, key, "queue", prefix, "read"), allowed, prefix);
  }
  assert.equal(allowsEveryNameWithPrefix(keyRing, key, "topic", "", "read"), true);
  assert.equal(allowsEveryNameWithPrefix(keyRing, key, "queue", "orders-", "manage"), false);
});

Deno.test("the prefix rule agrees with brute force over short globs, prefixes and names", () => {
  const globs = stringsOver(["a", "b", "*"], 4).filter((glob) => glob !== "");
  const prefixes = stringsOver(["a", "b"], 3);
  const suffixes = stringsOver(["a", "b"], 3);
  for (const glob of globs) {
    const permissions = compiled(`queue:${glob}:read`);
    const ring = {
      find: () => undefined,
      allows: (_k: unknown, kind: ResourceKind, name: string, action: Action) =>
        permissionsAllow(permissions, kind, name, action),
    };
    for (const prefix of prefixes) {
      const everySuffix = suffixes.every((suffix) =>
        permissionsAllow(permissions, "queue", prefix + suffix, "read")
      );
      const key = { secretId: "a", secretKey: "k", allow: [] };
      assert.equal(
        allowsEveryNameWithPrefix(ring, key, "queue", prefix, "read"),
        everySuffix,
        `${glob} over ${prefix}…`,
      );
    }
  }
});
