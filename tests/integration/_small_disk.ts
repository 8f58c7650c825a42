/**
 * A small real file system for disk-full tests: an ext4 image (no reserved blocks) loop-mounted
 * on a temp directory. Needs root and a kernel that allows loop mounts; `mountSmallDisk`
 * answers null (with the reason) where `mount` is refused, so the caller can skip.
 *
 * @module
 */

/** A mounted small disk; `remove()` unmounts and deletes everything it made. */
export interface SmallDisk {
  dir: string;
  remove(): Promise<void>;
}

async function run(command: string, args: string[]): Promise<{ ok: boolean; text: string }> {
  try {
    const output = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" })
      .output();
    const text = new TextDecoder().decode(output.stderr) + new TextDecoder().decode(output.stdout);
    return { ok: output.success, text };
  } catch (error) {
    return { ok: false, text: (error as Error).message };
  }
}

/** Makes and mounts an ext4 file system of `sizeMb` MiB; null + reason when not possible. */
export async function mountSmallDisk(
  sizeMb: number,
): Promise<{ disk: SmallDisk | null; reason: string }> {
  const dir = await Deno.makeTempDir({ prefix: "cmqd-disk-" });
  const image = `${dir}.img`;
  const cleanImage = async () => {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.remove(image).catch(() => {});
  };
  const file = await Deno.open(image, { create: true, write: true });
  await file.truncate(sizeMb * 1024 * 1024);
  file.close();
  const mkfs = await run("mkfs.ext4", ["-q", "-F", "-m", "0", image]);
  if (!mkfs.ok) {
    await cleanImage();
    return { disk: null, reason: `mkfs.ext4 failed: ${mkfs.text.trim()}` };
  }
  const mount = await run("mount", ["-o", "loop", image, dir]);
  if (!mount.ok) {
    await cleanImage();
    return { disk: null, reason: `mount refused: ${mount.text.trim()}` };
  }
  return {
    reason: "",
    disk: {
      dir,
      async remove() {
        const unmount = await run("umount", [dir]);
        if (!unmount.ok) await run("umount", ["-l", dir]);
        await cleanImage();
      },
    },
  };
}

/** Writes a file of zeros of `bytes` (in 1 MiB writes, stopping quietly when the disk is full). */
export async function fill(path: string, bytes: number): Promise<void> {
  const file = await Deno.open(path, { create: true, write: true });
  const chunk = new Uint8Array(1024 * 1024);
  try {
    for (let written = 0; written < bytes;) {
      const size = Math.min(chunk.length, bytes - written);
      written += await file.write(chunk.subarray(0, size));
    }
    await file.sync();
  } catch {
    // full: what fit is what the caller gets
  } finally {
    file.close();
  }
}

/** Free bytes on the file system of `path`, as `df` reports them. */
export async function freeBytes(path: string): Promise<number> {
  const output = await new Deno.Command("df", { args: ["-B1", "--output=avail", path] }).output();
  return Number(new TextDecoder().decode(output.stdout).trim().split("\n").at(-1));
}
