import { strict as assert } from "node:assert";
import { CredentialsError } from "./errors.ts";
import { credentialsLimits } from "./credentials.ts";
import { FileKeyRing } from "./file_key_ring.ts";
import { readSmallTextFile, secretFileWarning } from "./small_file.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "cmqd-small-file-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Makes a FIFO at `path`; false where `mkfifo` is missing. */
async function mkfifo(path: string): Promise<boolean> {
  try {
    return (await new Deno.Command("mkfifo", { args: [path] }).output()).success;
  } catch {
    return false;
  }
}

const credentials = '{"keys":[{"secretId":"AKIDa","secretKey":"s","allow":["*"]}]}';

Deno.test("a regular file is read whole, through a symlink too, without its byte order mark", () =>
  withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/file`, `\ufeff${credentials}\r\n`);
    await Deno.symlink(`${dir}/file`, `${dir}/link`);
    assert.equal(await readSmallTextFile(`${dir}/file`, 1000), `${credentials}\r\n`);
    assert.equal(await readSmallTextFile(`${dir}/link`, 1000), `${credentials}\r\n`);
    assert.equal((await FileKeyRing.load(`${dir}/link`)).size, 1);
  }));

Deno.test("a file larger than the bound is refused, not read", () =>
  withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/file`, "x".repeat(101));
    await assert.rejects(readSmallTextFile(`${dir}/file`, 100), /it is larger than 100 bytes/);
    assert.equal(await readSmallTextFile(`${dir}/file`, 101), "x".repeat(101));
    const bytesMax = credentialsLimits.credentialsCharsMax;
    await Deno.writeTextFile(`${dir}/huge.json`, " ".repeat(bytesMax + 1));
    await assert.rejects(
      FileKeyRing.load(`${dir}/huge.json`),
      new RegExp(`cannot read the credentials file \\(it is larger than ${bytesMax} bytes\\)`),
    );
  }));

Deno.test("a device, a FIFO or a directory is refused without reading it", async () => {
  // /dev/zero was read until the heap ran out; a FIFO without a writer hung the start forever.
  if (Deno.build.os !== "windows") {
    await assert.rejects(
      FileKeyRing.load("/dev/zero"),
      (error: Error) =>
        error instanceof CredentialsError &&
        error.message ===
          "/dev/zero: cannot read the credentials file (it is a character device, not a " +
            "regular file)",
    );
  }
  await withDir(async (dir) => {
    await assert.rejects(
      readSmallTextFile(dir, 100),
      /it is a directory, not a regular file/,
    );
    if (await mkfifo(`${dir}/fifo`)) {
      await assert.rejects(
        FileKeyRing.load(`${dir}/fifo`),
        /fifo: cannot read the credentials file \(it is a FIFO, not a regular file\)/,
      );
    }
  });
});

Deno.test("a secret file other users can read or write is warned about, saying which, with the chmod that fixes it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/credentials.json`;
    await Deno.writeTextFile(path, "{}");
    await Deno.chmod(path, 0o644);
    assert.equal(
      await secretFileWarning("credentials file", path),
      `credentials file ${path} can be read by other users (mode 644); run: chmod 600 ${path}`,
    );
    await Deno.chmod(path, 0o642);
    assert.equal(
      await secretFileWarning("credentials file", path),
      `credentials file ${path} can be written by other users (mode 642); run: chmod 600 ${path}`,
      "others may write it, not read it",
    );
    await Deno.chmod(path, 0o606);
    assert.equal(
      await secretFileWarning("credentials file", path),
      `credentials file ${path} can be read and written by other users (mode 606); run: chmod 600 ${path}`,
    );
    await Deno.chmod(path, 0o641);
    assert.equal(
      await secretFileWarning("credentials file", path),
      `credentials file ${path} can be executed by other users (mode 641); run: chmod 600 ${path}`,
    );
    await Deno.chmod(path, 0o640);
    assert.equal(await secretFileWarning("credentials file", path), null, "group only");
    await Deno.chmod(path, 0o600);
    assert.equal(await secretFileWarning("credentials file", path), null);
    assert.equal(await secretFileWarning("credentials file", `${dir}/missing`), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
