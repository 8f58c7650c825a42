/**
 * What every example shares: the broker URL (first argument, else `CMQD_URL`, else the default
 * port) and a bounded wait for a condition.
 *
 * @module
 */
import process from "node:process";

/** The broker the example talks to. */
export function brokerUrl(): string {
  return process.argv[2] ?? process.env.CMQD_URL ?? "http://127.0.0.1:9876";
}

/** Resolves once `done()` holds; rejects after `timeoutMs` naming `what`. */
export async function waitFor(
  what: string,
  done: () => boolean,
  timeoutMs = 30_000,
): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > giveUpAt) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A unique suffix, so that runs against one broker never share a queue. */
export function runId(): string {
  return Date.now().toString(36) + Math.floor(Math.random() * 1e6).toString(36);
}
