/**
 * A real cmqd for your own test suites: `startTestBroker({ nodes: 1 | 3 })` starts cmqd as child
 * processes on free loopback ports with a temporary data directory, waits until a leader serves
 * writes, and `stop()` stops every process (by its PID) and removes the directory. It runs in
 * Deno and in Node ≥ 20 (`@cmqd/sdk/testing`), with the same code: only `node:` built-ins.
 *
 * Which program is started (flags such as `--port` are appended):
 * 1. `options.command`, e.g. `["cmqd"]` for a compiled binary (`deno task compile`);
 * 2. else the environment variable `CMQD_COMMAND` (words separated by spaces, or a JSON array);
 * 3. else, in Deno inside the cmqd repository, its `main.ts` run by the Deno that runs the test;
 * 4. else `main.ts` at `options.mainPath` / env `CMQD_MAIN`, run by a `deno` on `PATH`, or by
 *    `npx -y deno@2.9.6` when there is none.
 *
 * @example Deno
 * ```ts
 * import { startTestBroker } from "./sdk/testing.ts";
 *
 * Deno.test("workers handle each job", async () => {
 *   const broker = await startTestBroker();
 *   try {
 *     await broker.client.createQueue("jobs");
 *   } finally {
 *     await broker.stop();
 *   }
 * });
 * ```
 *
 * @example Node (node:test)
 * ```ts
 * import { test } from "node:test";
 * import { startTestBroker } from "@cmqd/sdk/testing";
 *
 * test("workers handle each job", async () => {
 *   const broker = await startTestBroker({ nodes: 3 });
 *   try {
 *     await broker.client.createQueue("jobs");
 *   } finally {
 *     await broker.stop();
 *   }
 * });
 * ```
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { CmqdClient, type CmqdClientOptions, type Credentials } from "./client.ts";

/** Options of `startTestBroker`. */
export interface TestBrokerOptions {
  /** One node, or a three-node Raft cluster. Default 1. */
  nodes?: 1 | 3;
  /** The program that runs cmqd, flags appended (see the module documentation). */
  command?: string[];
  /** `main.ts` of cmqd, run with Deno when no command is given (env `CMQD_MAIN`). */
  mainPath?: string;
  /** How long the cluster may take to elect a leader and serve. Default 60 s. */
  readyTimeoutMs?: number;
  /** Extra environment of the broker processes. */
  env?: Record<string, string>;
  /** Extra flags for every node (after the ones `startTestBroker` sets). */
  args?: string[];
  /**
   * Start the broker with a credentials file holding this one key (allowed everything); the
   * broker's clients (`client`, `newClient`) sign with it. Without it the broker runs in
   * protected mode: loopback clients only, no authentication.
   */
  credentials?: Credentials;
}

/** One broker process of a test cluster. */
export interface TestBrokerNode {
  id: string;
  url: string;
  pid: number;
}

/** A running test broker (one node or a cluster). */
export interface TestBroker {
  /** The client URL of the first node (any node serves any request). */
  url: string;
  /** Every node's client URL. */
  urls: string[];
  nodes: TestBrokerNode[];
  /** The temporary directory holding every node's data (removed by `stop`). */
  dataDir: string;
  /** A client of every node (closed by `stop`). */
  client: CmqdClient;
  /** Another client with its own options (closed by `stop`). */
  newClient(options?: Partial<CmqdClientOptions>): CmqdClient;
  /** What the processes printed so far (for a failing test's message). */
  output(): string;
  /** Stops every process (SIGTERM, then SIGKILL after a grace period) and removes `dataDir`. */
  stop(): Promise<void>;
}

const readyTimeoutMsDefault = 60_000;
/** A process that ignores SIGTERM this long is killed. */
const stopGraceMs = 10_000;
/** The printed output kept per node, for error messages. */
const outputCharsMax = 64 * 1024;
/** The Deno release `npx` fetches when neither a command nor a `deno` on PATH is there. */
const denoNpmVersion = "2.9.6";

/**
 * Starts cmqd on free ports and waits until a leader answers `/readyz`.
 *
 * @example
 * ```ts
 * const broker = await startTestBroker({ nodes: 3 });
 * await broker.client.createQueue("orders");
 * await broker.stop();
 * ```
 */
export async function startTestBroker(options: TestBrokerOptions = {}): Promise<TestBroker> {
  const count = options.nodes ?? 1;
  if (count !== 1 && count !== 3) throw new RangeError("nodes must be 1 or 3");
  const { dataDir, specs, running } = await launchNodes(resolveCommand(options), count, options);
  const urls = specs.map((spec) => `http://127.0.0.1:${spec.port}`);
  const clients: CmqdClient[] = [];
  const newClient = (clientOptions: Partial<CmqdClientOptions> = {}) => {
    const client = new CmqdClient({
      baseUrl: urls,
      timeoutMs: 10_000,
      credentials: options.credentials,
      ...clientOptions,
    });
    clients.push(client);
    return client;
  };
  const output = () => running.map((each) => each.output()).join("\n");
  const stop = async () => {
    for (const client of clients) client.close();
    await Promise.all(running.map((each) => each.stop()));
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    await waitForLeader(urls, running, {
      timeoutMs: options.readyTimeoutMs ?? readyTimeoutMsDefault,
      credentials: options.credentials,
      nodeIds: specs.map((spec) => spec.id),
    });
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\n--- cmqd output ---\n${output()}`);
  }
  return {
    url: urls[0],
    urls,
    nodes: specs.map((spec, index) => ({ id: spec.id, url: urls[index], pid: running[index].pid })),
    dataDir,
    client: newClient(),
    newClient,
    output,
    stop,
  };
}

interface NodeSpec {
  id: string;
  port: number;
  peerPort: number;
}

/** Starts `count` cmqd processes on free ports under a new temporary directory. */
async function launchNodes(
  command: string[],
  count: number,
  options: TestBrokerOptions,
): Promise<{ dataDir: string; specs: NodeSpec[]; running: RunningProcess[] }> {
  const ports = await freePorts(count * 2);
  const dataDir = await mkdtemp(join(tmpdir(), "cmqd-test-"));
  const specs = Array.from({ length: count }, (_, index) => ({
    id: `n${index + 1}`,
    port: ports[index * 2],
    peerPort: ports[index * 2 + 1],
  }));
  const peers = specs.map((spec) => `${spec.id}=127.0.0.1:${spec.peerPort}`).join(",");
  const env: Record<string, string> = { ...process.env, NO_COLOR: "1", ...options.env };
  // A cluster's peers prove a shared key to each other; a fresh one per test cluster.
  if (count > 1) env.CMQD_CLUSTER_KEY ??= randomBytes(32).toString("hex");
  const credentialFlags = options.credentials === undefined
    ? []
    : ["--credentials", await writeCredentials(dataDir, options.credentials)];
  const running = specs.map((spec) =>
    startProcess(command, [
      "--host",
      "127.0.0.1",
      "--port",
      String(spec.port),
      "--data-dir",
      join(dataDir, spec.id),
      "--node-id",
      spec.id,
      ...(count > 1 ? ["--peer-port", String(spec.peerPort), "--peers", peers] : []),
      ...credentialFlags,
      ...(options.args ?? []),
    ], env)
  );
  return { dataDir, specs, running };
}

interface RunningProcess {
  pid: number;
  exited(): boolean;
  output(): string;
  stop(): Promise<void>;
}

function startProcess(
  command: string[],
  flags: string[],
  env: Record<string, string>,
): RunningProcess {
  const child: ChildProcess = spawn(command[0], [...command.slice(1), ...flags], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let text = "";
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once("exit", () => {
      exited = true;
      resolve();
    });
    child.once("error", (error) => {
      text += `\ncould not start ${command[0]}: ${error.message}`;
      exited = true;
      resolve();
    });
  });
  const keep = (chunk: Uint8Array) => {
    text = (text + new TextDecoder().decode(chunk)).slice(-outputCharsMax);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  return {
    pid: child.pid ?? -1,
    exited: () => exited,
    output: () => text,
    async stop() {
      if (exited) return;
      child.kill("SIGTERM");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const killed = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          child.kill("SIGKILL");
          resolve();
        }, stopGraceMs);
      });
      await Promise.race([exit, killed]);
      clearTimeout(timer);
      await exit;
    },
  };
}

/** What `waitForLeader` reads of each node's `GET /v1/cluster`. */
export interface ClusterView {
  nodeId?: string;
  leaderId: string | null;
  commitIndex: number;
  canVote?: boolean;
}

/**
 * True when every node names `leader`, has heard of a commit and may vote. A node that started
 * after the first leader committed takes itself for one whose disk was replaced once an append
 * shows it the log, and may not vote until a leader of a newer term has repaired it; before that
 * append (the leader's first heartbeat carries commit 0) it names the leader and says it may vote.
 * A test that stops the leader before every node is past that point could see no new leader.
 * With `nodeIds`, view `i` must also be node `i`'s own (a client that follows the leader hint
 * would have asked the leader instead, whose view says nothing of the others).
 */
export function clusterSettled(
  views: ClusterView[],
  leader: string,
  nodeIds?: readonly string[],
): boolean {
  return views.every((view, index) =>
    view.leaderId === leader && view.canVote !== false && view.commitIndex > 0 &&
    (nodeIds === undefined || view.nodeId === nodeIds[index])
  );
}

/**
 * Polls until a node that calls itself leader answers `/readyz` with 200 and, with several
 * nodes, every node follows it and may vote (`clusterSettled`).
 */
async function waitForLeader(
  urls: string[],
  running: RunningProcess[],
  options: { timeoutMs: number; credentials?: Credentials; nodeIds: readonly string[] },
): Promise<void> {
  const { timeoutMs, credentials, nodeIds } = options;
  // Each probe asks its own node: one that followed the leader hint would answer the leader's
  // view for every node, settled while a follower has not heard of a commit yet.
  const probes = urls.map((url) =>
    new CmqdClient({
      baseUrl: url,
      timeoutMs: 1_000,
      retry: { attemptsMax: 1 },
      credentials,
      followLeader: false,
    })
  );
  const giveUpAt = Date.now() + timeoutMs;
  try {
    for (let delayMs = 10;; delayMs = Math.min(delayMs * 2, 200)) {
      const gone = running.findIndex((each) => each.exited());
      if (gone >= 0) throw new Error(`cmqd n${gone + 1} exited while starting`);
      for (const probe of probes) {
        const info = await probe.cluster().catch(() => undefined);
        if (info?.role !== "leader" || !await probe.ready().catch(() => false)) continue;
        if (probes.length === 1) return;
        const views = await Promise.all(probes.map((each) => each.cluster().catch(() => null)));
        const settled = views.every((view) => view !== null) &&
          clusterSettled(views, info.nodeId, nodeIds);
        if (settled) return;
      }
      if (Date.now() > giveUpAt) throw new Error(`no cmqd leader within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  } finally {
    for (const probe of probes) probe.close();
  }
}

/** Writes a credentials file with one all-powerful key; answers its path. */
async function writeCredentials(dataDir: string, credentials: Credentials): Promise<string> {
  const path = join(dataDir, "credentials.json");
  const keys = [{ ...credentials, allow: ["*"] }];
  await writeFile(path, JSON.stringify({ keys }), { mode: 0o600 });
  return path;
}

/** `count` distinct free loopback ports (all held open until every one is known). */
async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let index = 0; index < count; index++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => resolve());
      });
      ports.push((server.address() as { port: number }).port);
    }
    return ports;
  } finally {
    await Promise.all(
      servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
    );
  }
}

/** The argv prefix that starts cmqd (see the module documentation for the order). */
export function resolveCommand(
  options: Pick<TestBrokerOptions, "command" | "mainPath"> = {},
): string[] {
  if (options.command !== undefined) {
    if (options.command.length === 0) throw new RangeError("command must not be empty");
    return options.command;
  }
  const fromEnv = process.env.CMQD_COMMAND?.trim();
  if (fromEnv) return fromEnv.startsWith("[") ? JSON.parse(fromEnv) : fromEnv.split(/\s+/);
  const runFlags = ["run", "-A", "--unstable-no-legacy-abort"];
  const deno = (globalThis as { Deno?: { execPath(): string } }).Deno;
  const repositoryMain = repositoryMainPath();
  if (deno !== undefined && repositoryMain !== undefined && options.mainPath === undefined) {
    return [deno.execPath(), ...runFlags, repositoryMain];
  }
  const mainPath = options.mainPath ?? process.env.CMQD_MAIN ?? repositoryMain;
  if (mainPath === undefined) {
    throw new Error(
      "startTestBroker: don't know how to start cmqd; pass { command } or set CMQD_COMMAND " +
        "(e.g. 'cmqd' for a compiled binary) or CMQD_MAIN (the path of cmqd's main.ts)",
    );
  }
  if (deno !== undefined) return [deno.execPath(), ...runFlags, mainPath];
  const onPath = denoOnPath();
  return onPath !== undefined
    ? [onPath, ...runFlags, mainPath]
    : ["npx", "-y", `deno@${denoNpmVersion}`, ...runFlags, mainPath];
}

/** `main.ts` beside this SDK when it runs from the cmqd repository (not from the npm package). */
function repositoryMainPath(): string | undefined {
  try {
    const url = new URL("../main.ts", import.meta.url);
    if (url.protocol !== "file:") return undefined;
    const path = fileURLToPath(url);
    return existsSync(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

function denoOnPath(): string | undefined {
  for (const directory of (process.env.PATH ?? "").split(delimiter)) {
    if (directory === "") continue;
    const candidate = join(directory, process.platform === "win32" ? "deno.exe" : "deno");
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}
