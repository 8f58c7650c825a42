import { strict as assert } from "node:assert";
import { CredentialsError } from "./errors.ts";
import { FileKeyRing } from "./file_key_ring.ts";

const path = "/etc/cmqd/credentials.json";

function credentialsText(...keys: [secretId: string, allow: string[]][]): string {
  return JSON.stringify({
    keys: keys.map(([secretId, allow]) => ({ secretId, secretKey: `${secretId}-key`, allow })),
  });
}

/** A fake file whose content the test replaces; `undefined` makes the read fail. */
function fakeFile(initial: string) {
  const file = { text: initial as string | undefined, reads: 0 };
  const read = (readPath: string): Promise<string> => {
    assert.equal(readPath, path);
    file.reads++;
    return file.text === undefined
      ? Promise.reject(new Deno.errors.NotFound("No such file or directory"))
      : Promise.resolve(file.text);
  };
  return { file, read };
}

Deno.test("a loaded ring finds keys by secretId and checks their permissions", async () => {
  const { read } = fakeFile(credentialsText(["AKIDworker", ["queue:images:receive"]]));
  const keyRing = await FileKeyRing.load(path, read);
  const key = keyRing.find("AKIDworker");
  assert.ok(key);
  assert.equal(key.secretKey, "AKIDworker-key");
  assert.equal(keyRing.find("AKIDnobody"), undefined);
  assert.ok(keyRing.allows(key, "queue", "images", "receive"));
  assert.equal(keyRing.allows(key, "queue", "images", "send"), false);
  assert.equal(keyRing.size, 1);
  assert.deepEqual(keyRing.keys().map((each) => each.secretId), ["AKIDworker"]);
});

Deno.test("loading an invalid file fails with the path and the place", async () => {
  const { read } = fakeFile(credentialsText(["AKIDworker", ["queue:images:write"]]));
  await assert.rejects(FileKeyRing.load(path, read), {
    name: "CredentialsError",
    message: `${path}: keys[0].allow[0]: unknown action 'write' for kind queue ` +
      "(expected send, receive, manage or read)",
  });
});

Deno.test("loading a missing file fails with the path and the reason", async () => {
  const { file, read } = fakeFile("");
  file.text = undefined;
  await assert.rejects(FileKeyRing.load(path, read), (error: unknown) => {
    assert.ok(error instanceof CredentialsError);
    assert.equal(
      error.message,
      `${path}: cannot read the credentials file (No such file or directory)`,
    );
    return true;
  });
});

Deno.test("a reload of a valid file swaps in the new keys", async () => {
  const { file, read } = fakeFile(credentialsText(["AKIDold", ["*"]]));
  const keyRing = await FileKeyRing.load(path, read);
  file.text = credentialsText(["AKIDnew", ["queue:a:send"]], ["AKIDother", []]);
  assert.equal(await keyRing.reload(), 2);
  assert.equal(keyRing.find("AKIDold"), undefined);
  const key = keyRing.find("AKIDnew");
  assert.ok(key && keyRing.allows(key, "queue", "a", "send"));
});

Deno.test("a reload of an invalid file keeps the old keys and reports the error", async () => {
  const { file, read } = fakeFile(credentialsText(["AKIDold", ["queue:a:send"]]));
  const keyRing = await FileKeyRing.load(path, read);
  file.text = '{"keys": [{"secretId": "AKIDnew"';
  await assert.rejects(keyRing.reload(), (error: unknown) => {
    assert.ok(error instanceof CredentialsError);
    assert.ok(error.message.startsWith(`${path}: credentials file: not valid JSON (`));
    return true;
  });
  file.text = undefined;
  await assert.rejects(keyRing.reload(), CredentialsError);
  const key = keyRing.find("AKIDold");
  assert.ok(key && keyRing.allows(key, "queue", "a", "send"));
  assert.equal(keyRing.size, 1);
});

Deno.test("of two overlapping reloads, the one started later wins", async () => {
  const { file } = fakeFile(credentialsText(["AKIDfirst", []]));
  const pending: ((text: string) => void)[] = [];
  let loaded = false;
  const keyRing = await FileKeyRing.load(path, () => {
    if (!loaded) {
      loaded = true;
      return Promise.resolve(file.text ?? "");
    }
    return new Promise((resolve) => pending.push(resolve));
  });
  const olderReload = keyRing.reload();
  const newerReload = keyRing.reload();
  pending[1](credentialsText(["AKIDnewer", []]));
  await newerReload;
  pending[0](credentialsText(["AKIDolder", []]));
  await olderReload;
  assert.ok(keyRing.find("AKIDnewer"));
  assert.equal(keyRing.find("AKIDolder"), undefined);
});

Deno.test("a key held across a reload keeps the permissions it was loaded with", async () => {
  const { file, read } = fakeFile(credentialsText(["AKIDworker", ["queue:a:send"]]));
  const keyRing = await FileKeyRing.load(path, read);
  const heldKey = keyRing.find("AKIDworker");
  assert.ok(heldKey);
  file.text = credentialsText(["AKIDworker", ["queue:b:send"]]);
  await keyRing.reload();
  assert.ok(keyRing.allows(heldKey, "queue", "a", "send"));
  const freshKey = keyRing.find("AKIDworker");
  assert.ok(freshKey && keyRing.allows(freshKey, "queue", "b", "send"));
  assert.equal(keyRing.allows(freshKey, "queue", "a", "send"), false);
});

Deno.test("a key that did not come from a file is checked by its allow list", async () => {
  const { read } = fakeFile(credentialsText(["AKIDworker", []]));
  const keyRing = await FileKeyRing.load(path, read);
  const plainKey = { secretId: "x", secretKey: "y", allow: ["topic:t*:publish", "queue:bad"] };
  assert.ok(keyRing.allows(plainKey, "topic", "tea", "publish"));
  assert.equal(keyRing.allows(plainKey, "topic", "tea", "read"), false);
  assert.equal(keyRing.allows(plainKey, "queue", "bad", "send"), false);
});

Deno.test("a ring over keys given in code checks them like a file's and allows like one", async () => {
  const ring = FileKeyRing.fromKeys([
    { secretId: "AKIDworker", secretKey: "worker-secret", allow: ["queue:images:receive"] },
  ]);
  const key = ring.find("AKIDworker")!;
  assert.ok(ring.allows(key, "queue", "images", "receive"));
  assert.ok(!ring.allows(key, "queue", "images", "send"));
  assert.equal(await ring.reload(), 1, "reload keeps the given keys");
  assert.throws(
    () => FileKeyRing.fromKeys([{ secretId: "AKIDbad", secretKey: "s", allow: ["queue:x:write"] }]),
    /unknown action 'write'/,
  );
});
