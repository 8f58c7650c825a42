import { strict as assert } from "node:assert";
import { parseCredentials } from "./credentials.ts";
import { CredentialsError } from "./errors.ts";

/** A key with valid defaults, overridden field by field. */
function keyJson(fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { secretId: "AKIDworker", secretKey: "s3cret", allow: ["*"], ...fields };
}

function fileWith(...keys: unknown[]): string {
  return JSON.stringify({ keys });
}

const badFiles: [description: string, text: string, message: string][] = [
  ["not JSON", "{keys:", "credentials file: not valid JSON ("],
  ["an array at the top", "[]", "credentials file: expected an object with keys"],
  ["null at the top", "null", "credentials file: expected an object with keys"],
  ["no keys field", "{}", "credentials file: missing field 'keys'"],
  [
    "an extra top-level field",
    '{"keys":[],"version":1}',
    "credentials file: unknown field 'version' (expected keys)",
  ],
  ["keys not an array", '{"keys":{}}', "keys: expected an array of keys"],
  [
    "no keys at all",
    '{"keys":[]}',
    "keys: expected at least one key (to serve without keys, run without a credentials file)",
  ],
  [
    "a key that is a string",
    fileWith("AKID"),
    "keys[0]: expected an object with secretId, secretKey, allow",
  ],
  [
    "a misspelt field",
    fileWith(keyJson(), { secretId: "b", secretkey: "x", allow: [] }),
    "keys[1]: unknown field 'secretkey' (expected secretId, secretKey, allow)",
  ],
  [
    "a missing secretKey",
    fileWith({ secretId: "a", allow: [] }),
    "keys[0]: missing field 'secretKey'",
  ],
  [
    "a missing allow",
    fileWith({ secretId: "a", secretKey: "b" }),
    "keys[0]: missing field 'allow'",
  ],
  ["a numeric secretId", fileWith(keyJson({ secretId: 7 })), "keys[0].secretId: expected a string"],
  [
    "an empty secretId",
    fileWith(keyJson({ secretId: "" })),
    "keys[0].secretId: must be 1–128 characters, got 0",
  ],
  [
    "a secretId of 129 characters",
    fileWith(keyJson({ secretId: "A".repeat(129) })),
    "keys[0].secretId: must be 1–128 characters, got 129",
  ],
  [
    "a secretId with a colon",
    fileWith(keyJson({ secretId: "AKID:x" })),
    "keys[0].secretId: may contain only letters, digits, '.', '_' and '-'",
  ],
  [
    "a duplicate secretId",
    fileWith(keyJson(), keyJson({ secretId: "AKIDother" }), keyJson()),
    "keys[2].secretId: 'AKIDworker' is already used by keys[0]",
  ],
  [
    "an empty secretKey",
    fileWith(keyJson({ secretKey: "" })),
    "keys[0].secretKey: must be 1–256 characters, got 0",
  ],
  [
    "a secretKey of 257 characters",
    fileWith(keyJson({ secretKey: "k".repeat(257) })),
    "keys[0].secretKey: must be 1–256 characters, got 257",
  ],
  [
    "a secretKey with a space",
    fileWith(keyJson({ secretKey: "two words" })),
    "keys[0].secretKey: may contain only visible ASCII characters, no spaces",
  ],
  [
    "allow not an array",
    fileWith(keyJson({ allow: "*" })),
    "keys[0].allow: expected an array of strings",
  ],
  [
    "too many permissions",
    fileWith(keyJson({ allow: Array.from({ length: 257 }, (_, index) => `queue:q${index}:send`) })),
    "keys[0].allow: more than 256 permissions (257)",
  ],
  [
    "a permission that is a number",
    fileWith(keyJson({ allow: ["*", 3] })),
    "keys[0].allow[1]: expected a string",
  ],
  [
    "an unknown action",
    fileWith(
      keyJson(),
      keyJson({ secretId: "b" }),
      keyJson({ secretId: "c", allow: ["queue:x:write"] }),
    ),
    "keys[2].allow[0]: unknown action 'write' for kind queue (expected send, receive, manage or read)",
  ],
  [
    "a queue action on a topic",
    fileWith(keyJson({ allow: ["topic:news:send"] })),
    "keys[0].allow[0]: unknown action 'send' for kind topic (expected publish, manage or read)",
  ],
  [
    "an unknown cluster action",
    fileWith(keyJson({ allow: ["cluster:write"] })),
    "keys[0].allow[0]: unknown action 'write' for kind cluster (expected manage or read)",
  ],
  [
    "a plural kind",
    fileWith(keyJson({ allow: ["queues:x:send"] })),
    "keys[0].allow[0]: unknown kind 'queues' (expected queue, topic or cluster)",
  ],
  [
    "an empty permission",
    fileWith(keyJson({ allow: [""] })),
    "keys[0].allow[0]: empty permission (expected '*' or kind:nameGlob:action)",
  ],
  [
    "a queue permission without a name",
    fileWith(keyJson({ allow: ["queue:send"] })),
    "keys[0].allow[0]: expected '*' or kind:nameGlob:action, got 'queue:send'",
  ],
  [
    "a permission with four parts",
    fileWith(keyJson({ allow: ["queue:a:b:send"] })),
    "keys[0].allow[0]: expected '*' or kind:nameGlob:action, got 'queue:a:b:send'",
  ],
  [
    "an empty name glob",
    fileWith(keyJson({ allow: ["queue::send"] })),
    "keys[0].allow[0]: empty name glob in 'queue::send'",
  ],
  [
    "a name glob with a dot",
    fileWith(keyJson({ allow: ["queue:orders.*:send"] })),
    "keys[0].allow[0]: name glob 'orders.*' may contain only letters, digits, '-', '_' and '*'",
  ],
  [
    "a name glob of 65 characters",
    fileWith(keyJson({ allow: [`queue:${"q".repeat(65)}:send`] })),
    `keys[0].allow[0]: name glob longer than 64 characters in 'queue:${"q".repeat(58)}…'`,
  ],
  [
    "a named cluster permission",
    fileWith(keyJson({ allow: ["cluster:node1:manage"] })),
    "keys[0].allow[0]: cluster permissions take no name: write 'cluster:<action>' or 'cluster:*:<action>'",
  ],
  [
    "'*' as an action",
    fileWith(keyJson({ allow: ["queue:orders:*"] })),
    "keys[0].allow[0]: unknown action '*' for kind queue (expected send, receive, manage or read)",
  ],
  [
    "a control character in a kind",
    fileWith(keyJson({ allow: ["queue\n:a:send"] })),
    "keys[0].allow[0]: unknown kind 'queue\\u000a' (expected queue, topic or cluster)",
  ],
];

for (const [description, text, message] of badFiles) {
  Deno.test(`a credentials file with ${description} is refused with a message naming the place`, () => {
    assert.throws(
      () => parseCredentials(text),
      (error: unknown) => {
        assert.ok(error instanceof CredentialsError);
        if (message.endsWith("(")) assert.ok(error.message.startsWith(message), error.message);
        else assert.equal(error.message, message);
        return true;
      },
    );
  });
}

Deno.test("no message about a secretKey shows the key", () => {
  for (const secretKey of ["two words", "k".repeat(300), "tab\tkey"]) {
    assert.throws(() => parseCredentials(fileWith(keyJson({ secretKey }))), (error: Error) => {
      assert.ok(!error.message.includes(secretKey.slice(0, 8)), error.message);
      return true;
    });
  }
});

Deno.test("a valid file gives its keys with the permissions as written", () => {
  const keys = parseCredentials(JSON.stringify({
    keys: [
      { secretId: "AKIDadmin", secretKey: "admin-key", allow: ["*"] },
      {
        secretId: "AKID.worker_2-b",
        secretKey: "!~:key:with:colons",
        allow: ["queue:images:receive", "queue:results:send", "cluster:read"],
      },
      { secretId: "AKIDdisabled", secretKey: "x", allow: [] },
    ],
  }));
  assert.deepEqual(keys.map((key) => [key.secretId, key.secretKey, key.allow]), [
    ["AKIDadmin", "admin-key", ["*"]],
    ["AKID.worker_2-b", "!~:key:with:colons", [
      "queue:images:receive",
      "queue:results:send",
      "cluster:read",
    ]],
    ["AKIDdisabled", "x", []],
  ]);
});

Deno.test("a permission written twice is kept once", () => {
  const [key] = parseCredentials(fileWith(keyJson({ allow: ["queue:a:send", "queue:a:send"] })));
  assert.deepEqual(key.allow, ["queue:a:send"]);
});

Deno.test("a loaded key hides its secretKey from JSON and from inspection", () => {
  const [key] = parseCredentials(fileWith(keyJson({ secretKey: "very-secret-value" })));
  assert.ok(!JSON.stringify(key).includes("very-secret-value"));
  assert.ok(!Deno.inspect(key).includes("very-secret-value"));
  assert.ok(Deno.inspect(key).includes("AKIDworker"));
});

Deno.test("a file larger than the bound is refused before parsing", () => {
  assert.throws(
    () => parseCredentials(" ".repeat(4 * 1024 * 1024 + 1)),
    { message: "credentials file: larger than 4194304 characters" },
  );
});

Deno.test("a file holds at most 10,000 keys", () => {
  const keys = (count: number) =>
    Array.from({ length: count }, (_, index) => keyJson({ secretId: `AKID${index}` }));
  assert.equal(parseCredentials(fileWith(...keys(10_000))).length, 10_000);
  assert.throws(() => parseCredentials(fileWith(...keys(10_001))), {
    message: "keys: more than 10000 keys (10001)",
  });
});
