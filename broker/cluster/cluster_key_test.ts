import assert from "node:assert/strict";
import { type KeyFileAccess, loadClusterKey, newClusterKeyText } from "./cluster_key.ts";

function fakeFile(text: string, mode: number | null, isFile = true): KeyFileAccess {
  return {
    readTextFile: () => Promise.resolve(text),
    stat: () => Promise.resolve({ mode, isFile }),
  };
}

const key = "3f".repeat(32);

Deno.test("a key file's text, without surrounding whitespace, is the key", async () => {
  const loaded = await loadClusterKey({ file: "/k", text: null }, fakeFile(`${key}\n`, 0o100600));
  assert.equal(new TextDecoder().decode(loaded!), key);
  const fromEnv = await loadClusterKey({ file: null, text: ` ${key} ` });
  assert.equal(new TextDecoder().decode(fromEnv!), key);
  assert.equal(await loadClusterKey({ file: null, text: null }), null);
});

Deno.test("a key file other users can read or write, a directory or a short key is refused", async () => {
  await assert.rejects(
    loadClusterKey({ file: "/k", text: null }, fakeFile(key, 0o100644)),
    /can be read by other users \(mode 644\); run: chmod 600 \/k/,
  );
  await assert.rejects(
    loadClusterKey({ file: "/k", text: null }, fakeFile(key, 0o100602)),
    /cluster key file \/k can be written by other users \(mode 602\); run: chmod 600 \/k/,
  );
  await assert.rejects(
    loadClusterKey({ file: "/k", text: null }, fakeFile(key, 0o40700, false)),
    /is not a file/,
  );
  await assert.rejects(
    loadClusterKey({ file: "/k", text: null }, fakeFile("secret\n", 0o100600)),
    /cluster key file \/k: a cluster key has 32–4096 characters, got 6/,
  );
  // Group access is the operator's choice (a service group); only "other" is refused.
  assert.ok(await loadClusterKey({ file: "/k", text: null }, fakeFile(key, 0o100640)));
});

Deno.test("a missing key file is named in the error", async () => {
  const path = `/nonexistent-${crypto.randomUUID()}/cluster.key`;
  await assert.rejects(loadClusterKey({ file: path, text: null }), new RegExp(path));
});

Deno.test("a real key file written with mode 600 loads", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/cluster.key`;
    const text = newClusterKeyText();
    assert.match(text, /^[0-9a-f]{64}$/);
    await Deno.writeTextFile(path, text + "\n", { mode: 0o600 });
    const loaded = await loadClusterKey({ file: path, text: null });
    assert.equal(new TextDecoder().decode(loaded!), text);
    await Deno.chmod(path, 0o604);
    await assert.rejects(loadClusterKey({ file: path, text: null }), /chmod 600/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a real key file is read up to 16 KiB; a larger one is refused, naming it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/cluster.key`;
    const text = newClusterKeyText();
    await Deno.writeTextFile(path, text + " ".repeat(16 * 1024 - text.length), { mode: 0o600 });
    assert.equal(
      new TextDecoder().decode((await loadClusterKey({ file: path, text: null }))!),
      text,
    );
    await Deno.writeTextFile(path, text + " ".repeat(16 * 1024 + 1 - text.length), { mode: 0o600 });
    await assert.rejects(
      loadClusterKey({ file: path, text: null }),
      (error: Error) => error.message.includes(path) && /16384/.test(error.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
