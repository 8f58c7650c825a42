/**
 * The README's "Running a cluster" and "Peer security" commands run as an operator runs them:
 * `deno task cluster` (plain and `--peer-tls`) on free ports and a temporary data directory,
 * stopped by SIGINT as Ctrl-C stops it; and the by-hand commands, with the cluster key made by the
 * README's `openssl` line, one node per loopback address (127.0.0.1–3 for 10.0.0.1–3), then a
 * fourth node joined with `--join` and removed with `DELETE /v1/cluster/nodes/n4`, after which,
 * still running, it answers `/readyz` 503 `NodeRemoved`. The commands
 * are read from the README, so a change there that breaks them fails here.
 */
import assert from "node:assert/strict";
import { credentials } from "./_main_program.ts";
import { eventually, freePort, reserve, settledLeader, type SettledView } from "./process.ts";

const repo = new URL("../../", import.meta.url).pathname;
const readme = Deno.readTextFileSync(`${repo}README.md`).split("\n");

/** The lines of the first fenced `sh` block after the line that starts with `marker`. */
function shBlockAfter(marker: string): string[] {
  const start = readme.findIndex((line) => line.startsWith(marker));
  assert.ok(start >= 0, `README has no line starting '${marker}'`);
  const open = readme.indexOf("```sh", start);
  const close = readme.indexOf("```", open + 1);
  return readme.slice(open + 1, close);
}

/** A free port `base` whose `base + 1`, `+ 10`, `+ 11`, `+ 20` and `+ 21` are free too. */
function freeBasePort(): number {
  for (;;) {
    const base = freePort();
    if ([1, 10, 11, 20, 21].every((offset) => portFree(base + offset) && reserve(base + offset))) {
      return base;
    }
  }
}

function portFree(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return true;
  } catch {
    return false;
  }
}

/** Output of a child, kept as it arrives (for failure messages and checks). */
function collect(child: Deno.ChildProcess): { text: () => string; done: Promise<void> } {
  let text = "";
  const decoder = new TextDecoder();
  const read = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  };
  return { text: () => text, done: Promise.all([read(child.stdout), read(child.stderr)]).then() };
}

async function views(
  urls: string[],
  init: RequestInit & { client?: Deno.HttpClient },
): Promise<SettledView[]> {
  return await Promise.all(urls.map(async (url) => {
    const response = await fetch(`${url}/v1/cluster`, init);
    return await response.json() as SettledView;
  }));
}

/** Runs one `deno task cluster …` line, waits for one leader over the three nodes, then Ctrl-C. */
async function runClusterTask(args: string[], scheme: string, base: number, dataDir: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", "cluster", ...args],
    cwd: repo,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = collect(child);
  let client: Deno.HttpClient | undefined;
  try {
    const urls = [0, 10, 20].map((offset) => `${scheme}://127.0.0.1:${base + offset}`);
    const leader = await eventually(`a leader of ${urls.join(", ")}`, async () => {
      // The task makes the CA at its start: trust its ca.pem once it is there.
      if (scheme === "https" && !client) {
        client = Deno.createHttpClient({
          caCerts: [await Deno.readTextFile(`${dataDir}/tls/ca.pem`)],
        });
      }
      return settledLeader(await views(urls, client ? { client } : {}));
    }).catch((error) => {
      throw new Error(`${error.message}\n${output.text()}`);
    });
    assert.ok(["n1", "n2", "n3"].includes(leader));
  } finally {
    client?.close();
    child.kill("SIGINT"); // what Ctrl-C sends
  }
  const status = await child.status;
  await output.done;
  assert.equal(status.code, 0, output.text());
  const warnings = output.text().split("\n").filter((line) => line.includes("WARNING"));
  assert.deepEqual(warnings, [], "a fresh local cluster warns of nothing");
  for (const id of ["n1", "n2", "n3"]) {
    assert.match(output.text(), new RegExp(`\\[${id}\\] .*stopped`));
  }
  const key = await Deno.stat(`${dataDir}/cluster.key`);
  assert.equal(key.mode! & 0o777, 0o600);
}

Deno.test("README: deno task cluster, plain and --peer-tls, starts three nodes and Ctrl-C stops them", async () => {
  const lines = shBlockAfter("## Running a cluster")
    .map((line) => line.replace(/#.*/, "").trim())
    .filter((line) => line.startsWith("deno task cluster"));
  assert.equal(lines.length, 3, lines.join("\n"));
  const dir = await Deno.makeTempDir({ prefix: "cmqd-readme-cluster-" });
  try {
    // `deno task cluster --base-port 7000 --data-dir /tmp/c`, on a free base port.
    const base = freeBasePort();
    const plain = lines[2].replace("7000", String(base)).replace("/tmp/c", `${dir}/plain`);
    assert.notEqual(plain, lines[2]);
    await runClusterTask(plain.split(/\s+/).slice(3), "http", base, `${dir}/plain`);
    // `deno task cluster --peer-tls`, moved off the default ports and ./data.
    const tlsBase = freeBasePort();
    const tls = [...lines[1].split(/\s+/).slice(3), "--base-port", String(tlsBase)];
    await runClusterTask([...tls, "--data-dir", `${dir}/tls`], "https", tlsBase, `${dir}/tls`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Whether this machine answers on 127.0.0.2 (Linux routes all of 127/8 to loopback). */
function loopbackRange(): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.2", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
}

/** A node started by `bash -c script` (`exec`: its PID is the node's), its output collected. */
function startScript(script: string) {
  const child = new Deno.Command("bash", {
    args: ["-c", script],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return { child, output: collect(child) };
}

Deno.test("README: the by-hand commands form a cluster; a node joins with --join and is removed", async () => {
  if (!loopbackRange()) {
    console.log("skipping: 127.0.0.2 is not a loopback address here");
    return;
  }
  const dir = await Deno.makeTempDir({ prefix: "cmqd-readme-by-hand-" });
  const nodes: ReturnType<typeof startScript>[] = [];
  try {
    // The cluster key, made by the first line of "Peer security".
    const keyLine = shBlockAfter("## Peer security")[0].replace(/#.*/, "").trim();
    assert.match(keyLine, /^openssl rand/);
    const made = await new Deno.Command("bash", { args: ["-c", keyLine], cwd: dir }).output();
    assert.ok(made.success, new TextDecoder().decode(made.stderr));
    assert.match((await Deno.readTextFile(`${dir}/cluster.key`)).trim(), /^[0-9a-f]{64}$/);
    const secret = "by-hand-admin-secret";
    await Deno.writeTextFile(
      `${dir}/credentials.json`,
      credentials([["AKIDadmin", secret, ["*"]]]),
      {
        mode: 0o600,
      },
    );
    const auth = { headers: { authorization: `Bearer AKIDadmin:${secret}` } };

    const block = shBlockAfter("By hand, one command per machine");
    const peersLine = block.find((line) => line.startsWith("P="));
    const first = block.findIndex((line) => line.startsWith("deno run"));
    assert.ok(peersLine && first >= 0, block.join("\n"));
    let last = first;
    while (block[last].endsWith("\\")) last++;
    const n1Command = block.slice(first, last + 1).join("\n");
    const port = freePort();
    const peerPort = freePort();
    const adapt = (text: string) =>
      text.replaceAll("10.0.0.", "127.0.0.").replaceAll("9877", String(peerPort))
        .replaceAll("9876", String(port)).replaceAll("/etc/cmqd/", `${dir}/`)
        .replace(/^deno /, `"${Deno.execPath()}" `);
    /** n1's command for node `n<i>` on 10.0.0.<i> (127.0.0.<i> here), its data in `dir`. */
    const command = (i: number) =>
      adapt(n1Command).replace("--node-id n1", `--node-id n${i}`)
        .replace("--host 127.0.0.1", `--host 127.0.0.${i}`)
        .replace("/var/lib/cmqd", `${dir}/n${i}`);
    for (const i of [1, 2, 3]) {
      const script = `${adapt(peersLine)}\nexec ${command(i)}`;
      assert.doesNotMatch(script, /10\.0\.0\.|9876|9877|\/etc\/|\/var\//, script);
      nodes.push(startScript(script));
    }
    const url = (i: number) => `http://127.0.0.${i}:${port}`;
    const outputs = () => nodes.map((node) => node.output.text()).join("\n");
    const leader = await eventually("a leader of the three nodes", async () => {
      return settledLeader(await views([1, 2, 3].map(url), auth));
    }).catch((error) => {
      throw new Error(`${error.message}\n${outputs()}`);
    });
    assert.ok(["n1", "n2", "n3"].includes(leader), leader);

    // "Joining": a fourth node, its own id, host and data directory, --join a member's URL.
    const join = command(4).replace("--peers $P", `--join ${url(2)}`);
    assert.notEqual(join, command(4));
    nodes.push(startScript(`exec ${join}`));
    const members = async () => {
      const view = await (await fetch(`${url(1)}/v1/cluster`, auth)).json() as {
        nodes: { id: string; role: string }[];
      };
      return view.nodes;
    };
    await eventually("n4 a voter", async () => {
      return (await members()).some((node) => node.id === "n4" && node.role !== "learner") ||
        undefined;
    }).catch((error) => {
      throw new Error(`${error.message}\n${outputs()}`);
    });

    // "Removing": DELETE on any node; n4, still running, learns it and answers NodeRemoved.
    const removal = await fetch(`${url(3)}/v1/cluster/nodes/n4`, { method: "DELETE", ...auth });
    assert.equal(removal.status, 204, await removal.text());
    assert.deepEqual((await members()).map((node) => node.id), ["n1", "n2", "n3"]);
    await eventually("n4 to answer /readyz 503 NodeRemoved", async () => {
      const response = await fetch(`${url(4)}/readyz`);
      const body = await response.json() as { error?: { code: string } };
      return response.status === 503 && body.error?.code === "NodeRemoved" || undefined;
    }).catch(async (error) => {
      const n4 = await (await fetch(`${url(4)}/v1/cluster`, auth)).text().catch(String);
      throw new Error(`${error.message}\nn4's view: ${n4}\n${outputs()}`);
    });
  } finally {
    for (const node of nodes) {
      try {
        node.child.kill("SIGTERM");
      } catch { /* already gone */ }
    }
    for (const node of nodes) {
      await node.child.status;
      await node.output.done;
    }
    await Deno.remove(dir, { recursive: true });
  }
  const warnings = nodes.flatMap((node) => node.output.text().split("\n"))
    .filter((line) => /WARNING|legacy behavior/.test(line));
  assert.deepEqual(warnings, [], "the README's commands start nodes that warn of nothing");
});
