/**
 * What `bench/soak.ts` samples of each broker process while it runs: RSS, open file descriptors
 * and threads from Linux `/proc`, the gauges of its `/metrics`, and, when it runs with
 * `--inspect`, the V8 heap through the inspector protocol (heap used, a forced GC, heap
 * snapshots counted by constructor for a before/after diff).
 *
 * @module
 */

/** One process's figures from `/proc`, or null when it is gone. */
export interface ProcessSample {
  rssKb: number;
  /** Of `rssKb`: anonymous memory (heaps, buffers) and file-backed pages (mapped log segments). */
  rssAnonKb: number;
  rssFileKb: number;
  fds: number;
  /** Of `fds`: TCP connections by remote port ("listen" for listeners), then other kinds. */
  fdKinds: Record<string, number>;
  threads: number;
}

/** The socket inodes of /proc/net/tcp{,6}, each with its remote port (0 for listeners). */
function tcpRemotePorts(): Map<string, number> {
  const ports = new Map<string, number>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = Deno.readTextFileSync(file);
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10) continue;
      ports.set(fields[9], parseInt(fields[2].split(":")[1], 16));
    }
  }
  return ports;
}

/** VmRSS, the number of entries of /proc/PID/fd and the thread count. */
export function processSample(pid: number): ProcessSample | null {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const field = (name: string) =>
      Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(status)?.[1]);
    let fds = 0;
    const fdKinds: Record<string, number> = {};
    const remotePorts = tcpRemotePorts();
    for (const entry of Deno.readDirSync(`/proc/${pid}/fd`)) {
      fds++;
      let target = "?";
      try {
        target = Deno.readLinkSync(`/proc/${pid}/fd/${entry.name}`);
      } catch { /* closed meanwhile */ }
      const socket = /^socket:\[(\d+)\]$/.exec(target);
      const port = socket ? remotePorts.get(socket[1]) : undefined;
      const kind = socket
        ? port === undefined ? "socket" : port === 0 ? "tcp:listen" : `tcp:${port}`
        : target.startsWith("/")
        ? "file"
        : target.replace(/[:[].*/, "");
      fdKinds[kind] = (fdKinds[kind] ?? 0) + 1;
    }
    return {
      rssKb: field("VmRSS"),
      rssAnonKb: field("RssAnon"),
      rssFileKb: field("RssFile"),
      fds,
      fdKinds,
      threads: field("Threads"),
    };
  } catch {
    return null;
  }
}

/** The `/metrics` families a soak watches, each summed over its series. */
export const watchedFamilies = [
  "cmqd_parked_receives",
  "cmqd_forwards_in_flight",
  "cmqd_push_inflight_requests",
  "cmqd_push_pending_messages",
  // The node-wide totals: the per-queue gauges list only the first --metrics-queue-series queues.
  "cmqd_active_messages",
  "cmqd_inflight_messages",
  "cmqd_delayed_messages",
  "cmqd_state_machine_bytes",
  "cmqd_log_bytes",
  "cmqd_log_segments",
] as const;

/** Sums each watched family over its series; `series` counts every sample line of the text. */
export function metricGauges(text: string): Record<string, number> {
  const sums: Record<string, number> = { series: 0 };
  for (const family of watchedFamilies) sums[family] = 0;
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    sums.series++;
    const space = line.lastIndexOf(" ");
    const brace = line.indexOf("{");
    const name = line.slice(0, brace >= 0 && brace < space ? brace : space);
    if (name in sums) sums[name] += Number(line.slice(space + 1));
  }
  return sums;
}

/** A connection to a V8 inspector (a process started with `--inspect=host:port`). */
export class Inspector {
  readonly #socket: WebSocket;
  readonly #waiting = new Map<number, (message: Record<string, unknown>) => void>();
  #chunks: string[] = [];
  #lastId = 0;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.onmessage = (event) => {
      const message = JSON.parse(String(event.data));
      if (message.method === "HeapProfiler.addHeapSnapshotChunk") {
        this.#chunks.push(message.params.chunk);
        return;
      }
      const resolve = this.#waiting.get(message.id);
      if (resolve === undefined) return;
      this.#waiting.delete(message.id);
      resolve(message);
    };
  }

  /** Connects to the first target the inspector at `hostPort` lists. */
  static async open(hostPort: string): Promise<Inspector> {
    const targets = await (await fetch(`http://${hostPort}/json/list`)).json() as {
      webSocketDebuggerUrl?: string;
    }[];
    const url = targets.find((target) => target.webSocketDebuggerUrl)?.webSocketDebuggerUrl;
    if (url === undefined) throw new Error(`no inspector target at ${hostPort}`);
    const socket = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      socket.onopen = () => resolve();
      socket.onerror = () => reject(new Error(`could not connect to ${url}`));
    });
    const inspector = new Inspector(socket);
    await inspector.call("HeapProfiler.enable");
    return inspector;
  }

  async call(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = ++this.#lastId;
    const answer = await new Promise<Record<string, unknown>>((resolve) => {
      this.#waiting.set(id, resolve);
      this.#socket.send(JSON.stringify({ id, method, params }));
    });
    const error = answer.error as { message: string } | undefined;
    if (error !== undefined) throw new Error(`inspector ${method}: ${error.message}`);
    return answer.result;
  }

  /** Bytes of the V8 heap in use (and allocated), without a GC. */
  async heapUsage(): Promise<{ usedSize: number; totalSize: number }> {
    return await this.call("Runtime.getHeapUsage") as { usedSize: number; totalSize: number };
  }

  /** A full GC. */
  async collectGarbage(): Promise<void> {
    await this.call("HeapProfiler.collectGarbage");
  }

  /** Writes a heap snapshot (after the GC the snapshot itself forces) to `path`. */
  async takeSnapshot(path: string): Promise<void> {
    this.#chunks = [];
    await this.call("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
    await Deno.writeTextFile(path, this.#chunks.join(""));
    this.#chunks = [];
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => (this.#socket.onclose = () => resolve()));
    this.#socket.close();
    await closed;
  }
}

/**
 * Objects of a heap snapshot counted by `type:name` (a constructor, a closure's name…); plain
 * objects (`Object`) also by their first property names, which tell one cache's entries from
 * another's (`object:Object{sequence,at}`).
 */
export function snapshotCounts(
  snapshot: {
    snapshot: {
      meta: {
        node_fields: string[];
        node_types: unknown[];
        edge_fields?: string[];
        edge_types?: unknown[];
      };
    };
    nodes: number[];
    edges?: number[];
    strings: string[];
  },
): Map<string, { count: number; bytes: number }> {
  const meta = snapshot.snapshot.meta;
  const fields = meta.node_fields;
  const typeNames = meta.node_types[0] as string[];
  const width = fields.length;
  const [typeAt, nameAt, sizeAt, edgeCountAt] = ["type", "name", "self_size", "edge_count"].map((
    field,
  ) => fields.indexOf(field));
  const edgeFields = meta.edge_fields ?? [];
  const edgeTypes = (meta.edge_types?.[0] ?? []) as string[];
  const [edgeTypeAt, edgeNameAt] = ["type", "name_or_index"].map((f) => edgeFields.indexOf(f));
  const edges = snapshot.edges ?? [];
  const counts = new Map<string, { count: number; bytes: number }>();
  let edge = 0;
  for (let at = 0; at < snapshot.nodes.length; at += width) {
    const type = typeNames[snapshot.nodes[at + typeAt]];
    const edgeCount = edgeCountAt < 0 ? 0 : snapshot.nodes[at + edgeCountAt];
    let name = type === "string" || type === "number" || type === "concatenated string"
      ? ""
      : snapshot.strings[snapshot.nodes[at + nameAt]].slice(0, 80);
    if (type === "object" && name === "Object" && edges.length > 0) {
      const properties: string[] = [];
      for (let k = 0; k < edgeCount && properties.length < 8; k++) {
        const e = (edge + k) * edgeFields.length;
        if (edgeTypes[edges[e + edgeTypeAt]] !== "property") continue;
        const property = snapshot.strings[edges[e + edgeNameAt]];
        if (property !== "__proto__") properties.push(property);
      }
      name += `{${properties.join(",")}}`;
    }
    edge += edgeCount;
    const key = `${type}:${name}`;
    const entry = counts.get(key) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += snapshot.nodes[at + sizeAt];
    counts.set(key, entry);
  }
  return counts;
}

/** The `top` kinds of object whose count grew most from `before` to `after`. */
export function snapshotGrowth(
  before: Map<string, { count: number; bytes: number }>,
  after: Map<string, { count: number; bytes: number }>,
  top = 30,
): { kind: string; count: number; bytes: number }[] {
  const rows = [...after].map(([kind, { count, bytes }]) => ({
    kind,
    count: count - (before.get(kind)?.count ?? 0),
    bytes: bytes - (before.get(kind)?.bytes ?? 0),
  }));
  return rows.filter((row) => row.count > 0).sort((a, b) => b.count - a.count).slice(0, top);
}

if (import.meta.main) {
  // deno run -A bench/soak_sampler.ts before.heapsnapshot after.heapsnapshot
  const [beforePath, afterPath] = Deno.args;
  const read = async (path: string) => snapshotCounts(JSON.parse(await Deno.readTextFile(path)));
  for (const row of snapshotGrowth(await read(beforePath), await read(afterPath), 40)) {
    console.log(
      `${String(row.count).padStart(9)} ${String(row.bytes).padStart(11)} B  ${row.kind}`,
    );
  }
}
