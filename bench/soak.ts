/**
 * A soak run: one broker (or a three-node cluster) started with `--inspect` on a temp data dir,
 * a mixed load for `--seconds` (bench/soak_load.ts), and every `--sample-seconds` each node's
 * RSS, open fds, threads, V8 heap used and `/metrics` gauges. After the load stops it waits
 * `--idle-seconds`, forces a GC and samples again: in-flight gauges should be back at zero, fds
 * at their idle level, and heap used near its starting level. See bench/README.md ("Soak").
 *
 * ```sh
 * deno run -A bench/soak.ts --seconds 480                  # one node
 * deno run -A bench/soak.ts --nodes 3 --seconds 150        # a cluster; half the clients use a follower
 * deno run -A bench/soak.ts --snapshots /tmp/snaps         # heap snapshots after warm-up and at the end
 * deno run -A bench/soak_sampler.ts /tmp/snaps/n1-start.heapsnapshot /tmp/snaps/n1-end.heapsnapshot
 * ```
 *
 * @module
 */
import { flagLines, parseFlags } from "./cli_options.ts";
import { clusterPorts, freePort, testClusterKeyText } from "../tests/integration/process.ts";
import { Inspector, metricGauges, processSample } from "./soak_sampler.ts";
import { SoakLoad, startPushEndpoint, Tally } from "./soak_load.ts";

const defaults = {
  nodes: 1,
  seconds: 480,
  warmupSeconds: 20,
  sampleSeconds: 12,
  idleSeconds: 30,
  rate: 150,
  publishRate: 10,
  doorRate: 10,
  churnRate: 1,
  topicChurnRate: 0.3,
  connChurnRate: 5,
  abortRate: 2,
  out: "",
  snapshots: "",
};

if (Deno.args.includes("--help")) {
  console.log(`usage: deno run -A bench/soak.ts [options]\n${flagLines(defaults)}`);
  Deno.exit(0);
}
const options = parseFlags(Deno.args, defaults);
if (options.nodes !== 1 && options.nodes !== 3) throw new Error("--nodes is 1 or 3");

const root = new URL("../", import.meta.url).pathname;
const credentials = { secretId: "AKIDsoak", secretKey: `soak-${crypto.randomUUID()}` };

/** Every broker process started, killed at the end even when a start failed. */
const children: Deno.ChildProcess[] = [];

interface Node {
  id: string;
  url: string;
  inspect: string;
  child: Deno.ChildProcess;
  inspector?: Inspector;
}

async function startNodes(dir: string): Promise<Node[]> {
  const credentialsFile = `${dir}/credentials.json`;
  await Deno.writeTextFile(
    credentialsFile,
    JSON.stringify({ keys: [{ ...credentials, allow: ["*"] }] }),
    { mode: 0o600 },
  );
  const ids = options.nodes === 1 ? ["n1"] : ["n1", "n2", "n3"];
  const { specs, peers } = clusterPorts(ids);
  const nodes = await Promise.all(specs.map(async ({ id, port, peerPort }): Promise<Node> => {
    const inspect = `127.0.0.1:${freePort()}`;
    const log = await Deno.open(`${dir}/${id}.log`, { write: true, create: true });
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--unstable-no-legacy-abort",
        `--inspect=${inspect}`,
        `${root}main.ts`,
        ...["--port", String(port), "--data-dir", `${dir}/${id}`, "--node-id", id],
        ...["--credentials", credentialsFile],
        ...(ids.length > 1 ? ["--peer-port", String(peerPort), "--peers", peers] : []),
      ],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", CMQD_CLUSTER_KEY: testClusterKeyText },
    }).spawn();
    children.push(child);
    child.stderr.pipeTo(log.writable).catch(() => {});
    child.stdout.pipeTo(
      (await Deno.open(`${dir}/${id}.out`, { write: true, create: true })).writable,
    )
      .catch(() => {});
    const url = `http://127.0.0.1:${port}`;
    for (let tries = 0;; tries++) {
      try {
        if ((await fetch(`${url}/healthz`)).ok) break;
      } catch { /* not yet */ }
      if (tries > 600) throw new Error(`${id} did not start (see ${dir}/${id}.log)`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return { id, url, inspect, child };
  }));
  if (nodes.length > 1) await settled(nodes);
  for (const node of nodes) node.inspector = await Inspector.open(node.inspect);
  return nodes;
}

const bearer = { authorization: `Bearer ${credentials.secretId}:${credentials.secretKey}` };

async function leaderOf(nodes: Node[]): Promise<Node> {
  const view = await (await fetch(`${nodes[0].url}/v1/cluster`, { headers: bearer })).json() as {
    leaderId: string;
  };
  return nodes.find((node) => node.id === view.leaderId) ?? nodes[0];
}

/** Waits (up to a minute) until every node names the same leader and may vote. */
async function settled(nodes: Node[]): Promise<void> {
  for (let tries = 0; tries < 600; tries++) {
    const views = await Promise.all(nodes.map(async (node) => {
      try {
        const answer = await fetch(`${node.url}/v1/cluster`, { headers: bearer });
        return await answer.json() as { leaderId: string | null; canVote?: boolean };
      } catch {
        return { leaderId: null };
      }
    }));
    const leader = views[0].leaderId;
    if (
      leader !== null && views.every((view) => view.leaderId === leader && view.canVote !== false)
    ) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("the nodes did not settle on a leader in a minute");
}

const startedAt = Date.now();
const lines: string[] = [];

async function sample(nodes: Node[], phase: string, gc = false): Promise<void> {
  for (const node of nodes) {
    if (gc) await node.inspector!.collectGarbage();
    const heap = await node.inspector!.heapUsage();
    const proc = processSample(node.child.pid);
    const text = await (await fetch(`${node.url}/metrics`)).text().catch(() => "");
    const gauges = metricGauges(text);
    const record = {
      t: Math.round((Date.now() - startedAt) / 1000),
      phase,
      node: node.id,
      ...proc,
      heapMb: +(heap.usedSize / 1e6).toFixed(1),
      ...gauges,
    };
    lines.push(JSON.stringify(record));
    console.log(
      `t=${record.t}s ${phase} ${node.id} rss=${((proc?.rssKb ?? 0) / 1024).toFixed(0)}MB ` +
        `(anon ${((proc?.rssAnonKb ?? 0) / 1024).toFixed(0)}, file ${
          ((proc?.rssFileKb ?? 0) / 1024).toFixed(0)
        }) ` +
        `fds=${proc?.fds} thr=${proc?.threads} heap=${record.heapMb}MB ` +
        `parked=${gauges.cmqd_parked_receives} fwd=${gauges.cmqd_forwards_in_flight} ` +
        `pushIn=${gauges.cmqd_push_inflight_requests} pushPend=${gauges.cmqd_push_pending_messages} ` +
        `locked=${gauges.cmqd_inflight_messages} active=${gauges.cmqd_active_messages} ` +
        `sm=${(gauges.cmqd_state_machine_bytes / 1e6).toFixed(1)}MB ` +
        `log=${(gauges.cmqd_log_bytes / 1e6).toFixed(0)}MB/${gauges.cmqd_log_segments} ` +
        `series=${gauges.series}`,
    );
    if (phase.startsWith("idle")) console.log(`  fds: ${JSON.stringify(proc?.fdKinds)}`);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const dir = await Deno.makeTempDir({ prefix: "cmqd-soak-" });
let nodes: Node[] = [];
const tally = new Tally();
const endpoint = startPushEndpoint(tally);
try {
  nodes = await startNodes(dir);
  const leader = await leaderOf(nodes);
  const follower = nodes.find((node) => node !== leader) ?? null;
  console.log(
    `nodes: ${nodes.map((n) => `${n.id} pid ${n.child.pid} ${n.url}`).join(", ")}; ` +
      `leader ${leader.id}${follower ? `, forwarding through ${follower.id}` : ""}; dir ${dir}`,
  );
  await sample(nodes, "idle-before", true);
  const load = new SoakLoad(
    { urls: [leader.url], forwardUrl: follower?.url ?? null, credentials },
    options,
  );
  await load.start(`http://127.0.0.1:${endpoint.addr.port}`);
  await sleep(options.warmupSeconds * 1000);
  await sample(nodes, "start", true);
  if (options.snapshots !== "") {
    await Deno.mkdir(options.snapshots, { recursive: true });
    for (const node of nodes) {
      await node.inspector!.takeSnapshot(`${options.snapshots}/${node.id}-start.heapsnapshot`);
    }
  }
  const endAt = Date.now() + options.seconds * 1000;
  while (Date.now() < endAt) {
    await sleep(Math.min(options.sampleSeconds * 1000, endAt - Date.now()));
    await sample(nodes, "load");
    console.log(`  ${load.tally.text()}`);
  }
  await load.stop();
  console.log(`load stopped; ${load.tally.text()} ${tally.text()}`);
  for (let waited = 0; waited < options.idleSeconds; waited += options.sampleSeconds) {
    await sleep(Math.min(options.sampleSeconds, options.idleSeconds - waited) * 1000);
    await sample(nodes, "idle");
  }
  await sample(nodes, "idle-gc", true);
  if (options.snapshots !== "") {
    for (const node of nodes) {
      await node.inspector!.takeSnapshot(`${options.snapshots}/${node.id}-end.heapsnapshot`);
    }
  }
} finally {
  if (options.out !== "") await Deno.writeTextFile(options.out, lines.join("\n") + "\n");
  for (const node of nodes) await node.inspector?.close().catch(() => {});
  for (const child of children) {
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 10_000);
    await child.status;
    clearTimeout(timer);
  }
  await endpoint.shutdown();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
