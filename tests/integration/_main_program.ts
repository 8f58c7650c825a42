/**
 * `main.ts` as a process for the security tests (`security_test.ts`, `https_test.ts`): what it
 * printed, its exit, SIGTERM; temp directories, credentials files, this machine's address.
 *
 * @module
 */
import { testClusterKeyText } from "./process.ts";

const root = new URL("../../", import.meta.url).pathname;

/** A `main.ts` process and what it printed. */
export interface Program {
  pid: number;
  output(): string;
  /** Resolves once `text` was printed; rejects if the process exits first or after 60 s. */
  printed(text: string | RegExp): Promise<void>;
  /** Resolves with the exit code (the process ends by itself). */
  exited(): Promise<number>;
  /** SIGTERM (if still running) and wait. */
  stop(): Promise<void>;
}

export function runMain(args: string[]): Program {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--unstable-no-legacy-abort", `${root}main.ts`, ...args],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", CMQD_CLUSTER_KEY: testClusterKeyText },
  }).spawn();
  let text = "";
  let exitCode: number | null = null;
  const decoder = new TextDecoder();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  const status = child.status.then(async (result) => {
    await pumps;
    exitCode = result.code;
    return result.code;
  });
  return {
    pid: child.pid,
    output: () => text,
    async printed(expected) {
      const deadline = Date.now() + 60_000;
      const seen = () =>
        typeof expected === "string" ? text.includes(expected) : expected.test(text);
      while (!seen()) {
        if (exitCode !== null || Date.now() > deadline) {
          throw new Error(`never printed ${expected} (exit ${exitCode}):\n${text}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    exited: () => status,
    async stop() {
      if (exitCode === null) {
        try {
          Deno.kill(child.pid, "SIGTERM");
        } catch { /* already gone */ }
      }
      await status;
    },
  };
}

export async function withTempDir<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

export function credentials(
  keys: [secretId: string, secretKey: string, allow: string[]][],
): string {
  return JSON.stringify({
    keys: keys.map(([secretId, secretKey, allow]) => ({ secretId, secretKey, allow })),
  });
}

/** This machine's first non-loopback IPv4 address, if it has one. */
export function externalAddress(): string | undefined {
  return Deno.networkInterfaces().find((each) =>
    each.family === "IPv4" && !each.address.startsWith("127.")
  )?.address;
}

export const serving = (scheme: string, host: string, port: number) =>
  `serving ${scheme}://${host}:${port}`;
