/**
 * What a running broker allocates, by call site: V8's sampling heap profiler over the inspector
 * protocol, counting objects the collector has already freed too (young garbage is what makes
 * the scavenges behind the latency shape's p99). Start the broker with `--inspect`, put a load
 * on it, and sample for a few seconds:
 *
 * ```sh
 * deno run -A --unstable-no-legacy-abort --inspect=127.0.0.1:9229 main.ts --data-dir /tmp/d &
 * deno run -A --unstable-no-legacy-abort bench/load.ts --shape latency --seconds 20 &
 * deno run -A bench/heap_profile.ts --inspect 127.0.0.1:9229 --seconds 6 --out heap.heapprofile
 * ```
 *
 * It prints the bytes allocated per site (self, then with callees) and, with `--out`, writes the
 * raw profile, which Chrome's DevTools (Memory tab) opens. Sites are named by function; their
 * line numbers count lines of the JavaScript Deno runs (types stripped), not of the TypeScript.
 *
 * @module
 */
import { option, textOption } from "./cli_options.ts";

/** One node of a sampled heap profile (the inspector's `SamplingHeapProfileNode`). */
export interface HeapProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapProfileNode[];
}

/** Bytes per call site, largest first. */
export interface AllocationSummary {
  totalBytes: number;
  self: [site: string, bytes: number][];
  inclusive: [site: string, bytes: number][];
}

function siteOf(node: HeapProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const name = functionName || "(anonymous)";
  if (url === "") return `${name} (native)`;
  return `${name} ${url.slice(url.lastIndexOf("/") + 1)}:${lineNumber + 1}`;
}

/** Sums a profile's bytes per site: its own allocations, and with everything it called. */
export function summarize(root: HeapProfileNode, top = 25): AllocationSummary {
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const add = (map: Map<string, number>, site: string, bytes: number) =>
    map.set(site, (map.get(site) ?? 0) + bytes);
  // Returns the bytes under `node`; a site on the stack twice (recursion) counts once.
  const walk = (node: HeapProfileNode, onStack: Set<string>): number => {
    const site = siteOf(node);
    add(self, site, node.selfSize);
    const entered = !onStack.has(site);
    if (entered) onStack.add(site);
    let bytes = node.selfSize;
    for (const child of node.children) bytes += walk(child, onStack);
    if (entered) {
      onStack.delete(site);
      add(inclusive, site, bytes);
    }
    return bytes;
  };
  const totalBytes = walk(root, new Set());
  const largest = (map: Map<string, number>) =>
    [...map].filter(([, bytes]) => bytes > 0).sort((a, b) => b[1] - a[1]).slice(0, top);
  return { totalBytes, self: largest(self), inclusive: largest(inclusive) };
}

/** The WebSocket address of the first target an inspector at `hostPort` lists. */
export async function inspectorTarget(hostPort: string): Promise<string> {
  const response = await fetch(`http://${hostPort}/json/list`);
  const targets = await response.json() as { webSocketDebuggerUrl?: string }[];
  const url = targets.find((target) => target.webSocketDebuggerUrl)?.webSocketDebuggerUrl;
  if (url === undefined) throw new Error(`no inspector target at ${hostPort}`);
  return url;
}

/**
 * Samples allocations of the isolate behind `webSocketUrl` for `seconds` (one sample about every
 * `intervalBytes` allocated) and returns the profile's root.
 */
export async function sampleHeap(
  webSocketUrl: string,
  seconds: number,
  intervalBytes = 16_384,
): Promise<HeapProfileNode> {
  const socket = new WebSocket(webSocketUrl);
  const waiting = new Map<number, { resolve(value: unknown): void; reject(e: Error): void }>();
  let lastId = 0;
  socket.onmessage = (event) => {
    const message = JSON.parse(String(event.data));
    const pending = waiting.get(message.id);
    if (pending === undefined) return; // an event, not an answer
    waiting.delete(message.id);
    if (message.error) pending.reject(new Error(`inspector: ${message.error.message}`));
    else pending.resolve(message.result);
  };
  const closed = new Promise<void>((resolve) => (socket.onclose = () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.onopen = () => resolve();
    socket.onerror = () => reject(new Error(`could not connect to ${webSocketUrl}`));
  });
  const call = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<unknown>((resolve, reject) => {
      const id = ++lastId;
      waiting.set(id, { resolve, reject });
      socket.send(JSON.stringify({ id, method, params }));
    });
  try {
    await call("HeapProfiler.enable");
    await call("HeapProfiler.startSampling", {
      samplingInterval: intervalBytes,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    const result = await call("HeapProfiler.stopSampling") as {
      profile: { head: HeapProfileNode };
    };
    return result.profile.head;
  } finally {
    socket.close();
    await closed;
  }
}

function table(rows: [string, number][], totalBytes: number): string {
  return rows.map(([site, bytes]) =>
    `${(bytes / 1e6).toFixed(1).padStart(8)} MB ${
      (100 * bytes / totalBytes).toFixed(1).padStart(5)
    }%  ${site}`
  ).join("\n");
}

if (import.meta.main) {
  const hostPort = textOption("inspect", "127.0.0.1:9229");
  const seconds = option("seconds", 6);
  const out = textOption("out", "");
  const root = await sampleHeap(await inspectorTarget(hostPort), seconds);
  if (out !== "") await Deno.writeTextFile(out, JSON.stringify({ head: root }));
  const summary = summarize(root, option("top", 25));
  console.log(`${(summary.totalBytes / 1e6).toFixed(1)} MB allocated in ${seconds} s (sampled)`);
  console.log(`--- by site\n${table(summary.self, summary.totalBytes)}`);
  console.log(`--- with callees\n${table(summary.inclusive, summary.totalBytes)}`);
}
