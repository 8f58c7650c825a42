/**
 * `deno task cluster`: a local three-node cluster in one terminal, for trying cmqd out. Data goes
 * under one directory (`--data-dir`, default `./data/cluster`), each node's output is prefixed by
 * its id, and Ctrl-C stops all three gracefully. The nodes share a cluster key kept in
 * `<data dir>/cluster.key` (made on the first run, mode 600).
 *
 * With `--peer-tls`, peer links and the client ports use TLS: a CA and a certificate for
 * `localhost` and 127.0.0.1 are made by openssl in `<data dir>/tls/` on every run (valid for
 * `certificateDays`, so a node does not warn of their expiry), and every node verifies the
 * others against that CA.
 *
 * ```sh
 * deno task cluster                      # clients on 9876, 9886, 9896; peers on +1
 * deno task cluster --base-port 7000     # clients on 7000, 7010, 7020
 * deno task cluster --peer-tls           # the same over TLS (clients: https://, --cacert tls/ca.pem)
 * ```
 *
 * @module
 */

import { newClusterKeyText } from "../broker/mod.ts";
import { makeCertificates } from "../broker/testing.ts";

const root = new URL("../", import.meta.url).pathname;

function flag(name: string, fallback: string): string {
  const index = Deno.args.indexOf(name);
  return index >= 0 && Deno.args[index + 1] ? Deno.args[index + 1] : fallback;
}

async function pipe(prefix: string, stream: ReadableStream<Uint8Array>, to: typeof console.log) {
  let carry = "";
  const decoder = new TextDecoder();
  for await (const chunk of stream) {
    const lines = (carry + decoder.decode(chunk, { stream: true })).split("\n");
    carry = lines.pop() ?? "";
    for (const line of lines) to(`${prefix} ${line}`);
  }
  if (carry) to(`${prefix} ${carry}`);
}

const usage = `usage: deno task cluster [--base-port N] [--data-dir DIR] [--peer-tls]
  --base-port N    client ports N, N+10, N+20; peer ports one above each (default 9876)
  --data-dir DIR   one sub-directory per node, the cluster key beside them (default ./data/cluster)
  --peer-tls       TLS on peer links and client ports, with a fresh CA in DIR/tls`;

/** The flags this script knows, each with whether it takes a value; anything else is refused. */
function checkArgs(args: string[]): string | undefined {
  const known: Record<string, boolean> = {
    "--base-port": true,
    "--data-dir": true,
    "--peer-tls": false,
  };
  for (let i = 0; i < args.length; i++) {
    const takesValue = known[args[i]];
    if (takesValue === undefined) return `unknown option '${args[i]}'`;
    if (takesValue && (args[i + 1] === undefined || args[i + 1].startsWith("--"))) {
      return `${args[i]} needs a value`;
    }
    if (takesValue) i++;
  }
  const port = Number(flag("--base-port", "9876"));
  if (!Number.isInteger(port) || port < 1 || port + 21 > 65535) {
    return "--base-port must be 1..65514";
  }
}

if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
  console.log(usage);
  Deno.exit(0);
}
const argsProblem = checkArgs(Deno.args);
if (argsProblem) {
  console.error(`${argsProblem}\n${usage}`);
  Deno.exit(2);
}

const basePort = Number(flag("--base-port", "9876"));
const dataDir = flag("--data-dir", "./data/cluster");
const ids = ["n1", "n2", "n3"];
const peers = ids.map((id, i) => `${id}=127.0.0.1:${basePort + 10 * i + 1}`).join(",");

/** The cluster key file, made once per data directory and reused on later runs. */
async function clusterKeyFile(): Promise<string> {
  const path = `${dataDir}/cluster.key`;
  await Deno.mkdir(dataDir, { recursive: true });
  try {
    await Deno.writeTextFile(path, newClusterKeyText() + "\n", { createNew: true, mode: 0o600 });
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
  }
  return path;
}
const keyFile = await clusterKeyFile();

/**
 * Days the certificates of `--peer-tls` are valid: beyond the two weeks before expiry in which a
 * node warns of it at start (they used to be valid for two days, and every node printed that
 * WARNING at every start).
 */
const certificateDays = 30;

/** `--peer-tls`: fresh certificates in `<data dir>/tls/` and the flags that use them. */
async function tlsArgs(): Promise<string[]> {
  if (!Deno.args.includes("--peer-tls")) return [];
  const dir = `${dataDir}/tls`;
  await Deno.mkdir(dir, { recursive: true });
  const files = await makeCertificates(dir, certificateDays);
  console.log(`cluster: peer and client TLS; trust ${files.ca} (curl --cacert ${files.ca})`);
  return ["--tls-cert", files.cert, "--tls-key", files.key, "--tls-ca", files.ca, "--peer-tls"];
}
const tls = await tlsArgs();
const scheme = tls.length > 0 ? "https" : "http";

const children = ids.map((id, i) => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--unstable-no-legacy-abort",
      `${root}main.ts`,
      "--node-id",
      id,
      "--port",
      String(basePort + 10 * i),
      "--peer-port",
      String(basePort + 10 * i + 1),
      "--peers",
      peers,
      "--data-dir",
      `${dataDir}/${id}`,
      "--cluster-key-file",
      keyFile,
      ...tls,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  void pipe(`[${id}]`, child.stdout, console.log);
  void pipe(`[${id}]`, child.stderr, console.error);
  return child;
});

const stop = () => {
  for (const child of children) {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
  }
};
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);
console.log(
  `cluster: ${
    ids.map((id, i) => `${id} ${scheme}://127.0.0.1:${basePort + 10 * i}`).join(", ")
  } (Ctrl-C stops all)`,
);
const statuses = await Promise.all(children.map((child) => child.status));
Deno.exit(statuses.every((status) => status.success) ? 0 : 1);
