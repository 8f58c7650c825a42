/**
 * Helpers for tests that run real `main.ts` processes: free ports, temp data dirs, start and
 * wait for the URL line, and stop by PID (kill -9 included).
 *
 * @module
 */

const root = new URL("../../", import.meta.url).pathname;

/**
 * The cluster key every broker these helpers start gets in `CMQD_CLUSTER_KEY` (a cluster member
 * refuses to start without one; a lone node ignores it).
 */
export const testClusterKeyText = "integration-test-cluster-key-0123456789abcdef";

/**
 * A free TCP port on loopback, free when asked and handed out to nobody else: not before by this
 * test module, and not by any other test module of a live process.
 */
export function freePort(): number {
  // Not port 0: the kernel hands those out from its ephemeral range (32768-60999 here), where
  // every outgoing connection of the parallel test processes takes its local port too, and a
  // port closed here could be taken before the broker binds it (AddrInUse, seen in CI). A random
  // port below that range, never handed out twice by this module, avoids both. `deno test
  // --parallel` runs modules side by side, each with its own `handedOut`: two of them picked the
  // same port between the probe and the broker's bind (AddrInUse again, seen in CI), so a port is
  // also reserved across modules and processes by a file (see `reserve`).
  for (let attempt = 0; attempt < 1000; attempt++) {
    const port = portsFrom + Math.floor(Math.random() * portsCount);
    if (handedOut.has(port)) continue;
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
    } catch {
      continue; // in use
    }
    if (!reserve(port)) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error("no free port found below the ephemeral range");
}

const portsFrom = 20_000;
const portsCount = 12_000;
const handedOut = new Set<number>();
const reservations = `${Deno.env.get("TMPDIR") ?? "/tmp"}/cmqd-test-ports`;

/**
 * Claims `port` for this process: a file named after it, holding the PID, made with `createNew`
 * (O_EXCL: one claimant wins). A port whose file names a live process is someone else's (or
 * another module's of this process); one whose process is gone is claimed again. Files stay
 * after the process ends; the next run's claims replace them.
 */
export function reserve(port: number): boolean {
  const path = `${reservations}/${port}`;
  Deno.mkdirSync(reservations, { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      Deno.writeTextFileSync(path, String(Deno.pid), { createNew: true });
      return true;
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    }
    let text: string;
    try {
      text = Deno.readTextFileSync(path);
    } catch {
      continue; // removed meanwhile by a process reclaiming it: try to create it again
    }
    const owner = Number(text);
    // Empty: its claimant made it and is writing its PID. Either way, not ours to take.
    if (text === "" || owner === Deno.pid || processAlive(owner)) return false;
    try {
      Deno.removeSync(path); // a dead process's claim; creating it again decides who gets it
    } catch { /* another claimant removed it first */ }
  }
  return false;
}

function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false; // a foreign file: stale
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/** Free client and peer ports for each node id, and the `--peers` list they make. */
export function clusterPorts(ids: string[]): {
  specs: { id: string; port: number; peerPort: number }[];
  peers: string;
} {
  const specs = ids.map((id) => ({ id, port: freePort(), peerPort: freePort() }));
  return { specs, peers: specs.map((s) => `${s.id}=127.0.0.1:${s.peerPort}`).join(",") };
}

/** A running broker process. */
export interface BrokerProcess {
  url: string;
  pid: number;
  child: Deno.ChildProcess;
  /** Everything it printed so far. */
  output(): string;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
  /** SIGTERM and wait for a graceful exit; returns the exit code. */
  stop(): Promise<number>;
}

/**
 * The broker program the real-process tests run: the repository's `main.ts`, or the file named by
 * `CMQD_MAIN` (after `deno task build`, `CMQD_MAIN=dist/cmqd.js` runs them
 * against the bundle servers run; a relative path is taken from the repository's root).
 */
export function brokerProgram(): string {
  const program = Deno.env.get("CMQD_MAIN");
  if (program === undefined || program === "") return `${root}main.ts`;
  return program.startsWith("/") ? program : `${root}${program}`;
}

/** Starts `deno run -A main.ts` and resolves once it printed its URL (bounded wait). */
export async function startBroker(
  options: {
    dataDir: string;
    port?: number;
    args?: string[];
    readyMs?: number;
    /** More environment variables (override the defaults, e.g. `CMQD_CLUSTER_KEY`). */
    env?: Record<string, string>;
    /** The address it listens on and is reached at (default 127.0.0.1; passed as `--host`). */
    host?: string;
    /** Passed as `--advertise-host`; the URL the broker prints and is reached at then uses it. */
    advertiseHost?: string;
    /** A command that runs deno (e.g. `["ip", "netns", "exec", "ns1"]`; it must exec). */
    launcher?: string[];
    /** `https` when `args` give it `--tls-cert` and `--tls-key` (default `http`). */
    scheme?: "http" | "https";
    /** The program `deno run` starts (default {@link brokerProgram}; e.g. a built bundle). */
    program?: string;
  },
): Promise<BrokerProcess> {
  const port = options.port ?? freePort();
  const host = options.host ?? "127.0.0.1";
  const launcher = options.launcher ?? [];
  const command = launcher.length > 0 ? launcher[0] : Deno.execPath();
  const child = new Deno.Command(command, {
    args: [
      ...(launcher.length > 0 ? [...launcher.slice(1), Deno.execPath()] : []),
      "run",
      "-A",
      "--unstable-no-legacy-abort",
      options.program ?? brokerProgram(),
      "--port",
      String(port),
      "--data-dir",
      options.dataDir,
      ...(host === "127.0.0.1" ? [] : ["--host", host]),
      ...(options.advertiseHost === undefined ? [] : ["--advertise-host", options.advertiseHost]),
      ...(options.args ?? []),
    ],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", CMQD_CLUSTER_KEY: testClusterKeyText, ...options.env },
  }).spawn();
  let text = "";
  const decoder = new TextDecoder();
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  const reachedAt = options.advertiseHost ?? host;
  const urlHost = reachedAt.includes(":") && !reachedAt.startsWith("[")
    ? `[${reachedAt}]`
    : reachedAt;
  const url = `${options.scheme ?? "http"}://${urlHost}:${port}`;
  const deadline = Date.now() + (options.readyMs ?? 60_000);
  while (!text.includes(`serving ${url}`)) {
    if (exited || Date.now() > deadline) {
      if (!exited) child.kill("SIGKILL");
      await status;
      await pumps;
      throw new Error(`broker did not start:\n${text}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return {
    url,
    pid: child.pid,
    child,
    output: () => text,
    async kill() {
      if (!exited) child.kill("SIGKILL");
      await status;
      await pumps;
    },
    async stop() {
      if (!exited) child.kill("SIGTERM");
      const result = await status;
      await pumps;
      return result.code;
    },
  };
}

/**
 * Starts several brokers at once; if any fails to start, kills the ones that did and rethrows,
 * so no process outlives a failed start.
 */
export async function startBrokers(
  optionsList: Parameters<typeof startBroker>[0][],
): Promise<BrokerProcess[]> {
  const results = await Promise.allSettled(optionsList.map((options) => startBroker(options)));
  const started = results.flatMap((result) => result.status === "fulfilled" ? [result.value] : []);
  const failure = results.find((result) => result.status === "rejected");
  if (failure !== undefined) {
    for (const broker of started) await broker.kill();
    throw failure.reason;
  }
  return started;
}

/**
 * Polls `probe` every 100 ms until it answers a value (not `undefined`; a throw counts as "not
 * yet"), or throws after `timeoutMs` naming `what`.
 */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** What `settled` reads of each node's `GET /v1/cluster`. */
export interface SettledView {
  leaderId: string | null;
  canVote?: boolean;
  commitIndex?: number;
}

/**
 * The leader every view names, when the views show a settled cluster (see `settled`), else
 * undefined.
 */
export function settledLeader(views: SettledView[]): string | undefined {
  const leader = views[0]?.leaderId ?? null;
  // A node that has heard of no commit yet may still be a fresh one about to learn that it
  // missed the first leader's entries: a leader's heartbeat to a follower it has not matched
  // yet carries commit 0, so the node names the leader and says it may vote until the next
  // append shows the log, and then it may not (README, "Replacing a node's disk").
  const agreed = leader !== null &&
    views.every((view) =>
      view.leaderId === leader && view.canVote !== false && (view.commitIndex ?? 0) > 0
    );
  return agreed ? leader : undefined;
}

/**
 * Waits until every node of `urls` names the same leader, has heard of a commit and may vote
 * (`canVote` in `GET /v1/cluster`). A voter that started after the first leader committed is
 * taken for one whose disk was replaced and is repaired first (README, "Replacing a node's
 * disk"); a test that kills the leader before that would wait for it to come back. Such a node
 * says it may vote until an append shows it the leader's log, so a node that has heard of no
 * commit is not taken for settled yet.
 */
export async function settled(urls: string[]): Promise<string> {
  return await eventually("every node to follow one leader and vote", async () => {
    const views = await Promise.all(urls.map(async (url) => {
      const response = await fetch(`${url}/v1/cluster`);
      return await response.json() as SettledView;
    }));
    return settledLeader(views);
  });
}

/** The repository's root (where `main.ts` is). */
const repoRoot = new URL("../../", import.meta.url).pathname;

/**
 * Starts `main.ts` on `dataDir` and a free port with `extra` flags, output piped, for tests that
 * watch a start fail or exit (stop it by PID, or await its `output()`). `port: false` leaves the
 * port to `extra`; `env` runs it with only that environment (and PATH), none inherited.
 */
export function spawnMain(
  dataDir: string,
  extra: string[] = [],
  options: { port?: boolean; env?: Record<string, string> } = {},
): Deno.ChildProcess {
  const port = options.port === false ? [] : ["--port", String(freePort())];
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--unstable-no-legacy-abort",
      brokerProgram(),
      ...port,
      "--data-dir",
      dataDir,
      ...extra,
    ],
    cwd: repoRoot,
    stdout: "piped",
    stderr: "piped",
    clearEnv: options.env !== undefined,
    env: options.env === undefined
      ? { NO_COLOR: "1" }
      : { NO_COLOR: "1", PATH: Deno.env.get("PATH") ?? "", ...options.env },
  }).spawn();
}

/**
 * Reads a child's output until it exits or prints `servingText` (bounded: 60 s, then SIGKILL); a
 * child that printed it is sent `servedSignal`. Every case waits for the exit and the whole output.
 * `served` is whether the text had come before the child was stopped.
 */
export async function untilExitOrServing(
  child: Deno.ChildProcess,
  servingText: string,
  servedSignal: Deno.Signal,
): Promise<{ served: boolean; code: number | null; text: string }> {
  let text = "";
  const decoder = new TextDecoder();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  let code: number | null = null;
  const exited = child.status.then((status) => {
    code = status.code;
  });
  const deadline = Date.now() + 60_000;
  while (code === null && !text.includes(servingText) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const served = text.includes(servingText);
  if (code === null) child.kill(served ? servedSignal : "SIGKILL");
  await exited;
  await pumps;
  return { served, code: code as number | null, text };
}
