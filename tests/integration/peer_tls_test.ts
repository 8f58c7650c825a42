/**
 * `--peer-tls` on real `main.ts` processes with certificates made by openssl: three nodes elect
 * and replicate over TLS peer links, followers forward to the leader's `https://` URL verifying
 * it against `--tls-ca`, a fourth node joins over HTTPS, and the configuration errors refuse to
 * start. (The transport-level cases — a plain peer on a TLS port, a certificate from another CA
 * or for another name, TLS without the key — are in `broker/transport/peer_tls_test.ts`.)
 */
import assert from "node:assert/strict";
import {
  hasOpenssl,
  issueCertificate,
  makeCertificates,
  makeTestCa,
} from "../../broker/testing.ts";
import { CmqdClient } from "../../sdk/mod.ts";
import { type BrokerProcess, freePort, startBroker, startBrokers } from "./process.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "cmqd-peer-tls-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Polls `probe` until it answers non-null; fails after `deadlineMs` (a bound, not a timing). */
async function eventually<T>(what: string, probe: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const value = await probe().catch(() => null);
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

Deno.test({
  name:
    "with --peer-tls three nodes elect, replicate and forward over verified TLS; a fourth joins",
  ignore: !hasOpenssl(),
  fn: () =>
    withTempDir(async (dir) => {
      const files = await makeCertificates(dir);
      const ca = await Deno.readTextFile(files.ca);
      const tlsArgs = [
        "--tls-cert",
        files.cert,
        "--tls-key",
        files.key,
        "--tls-ca",
        files.ca,
        "--peer-tls",
      ];
      const ids = ["n1", "n2", "n3"];
      const ports = ids.map(() => ({ client: freePort(), peer: freePort() }));
      const peers = ids.map((id, i) => `${id}=127.0.0.1:${ports[i].peer}`).join(",");
      const httpClient = Deno.createHttpClient({ caCerts: [ca] });
      const tlsFetch: typeof fetch = (input, init) => fetch(input, { ...init, client: httpClient });
      const brokers: BrokerProcess[] = [];
      try {
        brokers.push(
          ...await startBrokers(ids.map((id, i) => ({
            dataDir: `${dir}/${id}`,
            port: ports[i].client,
            scheme: "https",
            args: [
              "--node-id",
              id,
              "--peer-port",
              String(ports[i].peer),
              "--peers",
              peers,
              ...tlsArgs,
            ],
          }))),
        );
        for (const broker of brokers) {
          assert.match(
            broker.output(),
            /peer links use TLS, verifying members against --tls-ca .*ca\.pem/,
          );
        }
        const cluster = (url: string) =>
          tlsFetch(`${url}/v1/cluster`).then((response) => response.json());
        const leaderId: string = await eventually(
          "a leader",
          async () => (await cluster(brokers[0].url)).leaderId,
        );
        const [followerA, followerB] = brokers.filter((_, i) => ids[i] !== leaderId);
        const client = (broker: BrokerProcess) =>
          new CmqdClient({ baseUrl: broker.url, fetch: tlsFetch });

        // Both followers forward to the leader's https:// URL, verified with --tls-ca.
        await client(followerA).createQueue("tls-jobs");
        await client(followerA).sendMessages("tls-jobs", [{ body: "over peer TLS" }]);
        const { messages } = await client(followerB).receiveMessages("tls-jobs", {
          waitSeconds: 0,
        });
        assert.deepEqual(messages.map((message) => message.body), ["over peer TLS"]);
        const commitIndex: number = (await cluster(brokers[ids.indexOf(leaderId)].url))
          .commitIndex;
        for (const broker of brokers) {
          await eventually(
            `${broker.url} to apply ${commitIndex}`,
            async () => (await cluster(broker.url)).appliedIndex >= commitIndex ? true : null,
          );
        }

        // The peer port itself speaks TLS with the node's certificate.
        const peerConn = await Deno.connectTls({
          hostname: "127.0.0.1",
          port: ports[0].peer,
          caCerts: [ca],
        });
        await peerConn.handshake();
        peerConn.close();

        // A node joins through a follower's https:// URL, then takes part over TLS peer links.
        brokers.push(
          await startBroker({
            dataDir: `${dir}/n4`,
            scheme: "https",
            args: [
              "--node-id",
              "n4",
              "--peer-port",
              String(freePort()),
              "--join",
              followerA.url,
              ...tlsArgs,
            ],
          }),
        );
        assert.match(brokers[3].output(), /n4: joined the cluster through https:\/\//);
        const info = await cluster(followerB.url);
        assert.deepEqual(info.nodes.map((node: { id: string }) => node.id).sort(), [
          "n1",
          "n2",
          "n3",
          "n4",
        ]);
        await client(brokers[3]).sendMessages("tls-jobs", [{ body: "from the joiner" }]);
      } finally {
        httpClient.close();
        for (const broker of brokers) await broker.stop();
      }
    }),
});

Deno.test("--peer-tls without a certificate, or an unreadable --tls-ca, refuses to start", async () => {
  await withTempDir(async (dir) => {
    const cluster = ["--node-id", "n1", "--peers", `n1=127.0.0.1:${freePort()}`];
    await assert.rejects(
      startBroker({ dataDir: `${dir}/a`, args: [...cluster, "--peer-tls"] }),
      /cmqd: --peer-tls serves this node's certificate on the peer port: give --tls-cert FILE and --tls-key FILE/,
    );
    await Deno.writeTextFile(`${dir}/cert.pem`, "(parsed at listen, after the files are read)\n");
    await assert.rejects(
      startBroker({
        dataDir: `${dir}/b`,
        args: [
          ...cluster,
          "--peer-tls",
          "--tls-cert",
          `${dir}/cert.pem`,
          "--tls-key",
          `${dir}/cert.pem`,
          "--tls-ca",
          `${dir}/missing-ca.pem`,
        ],
      }),
      /cmqd: --tls-ca .*missing-ca\.pem: cannot read it \(No such file/,
    );
  });
});

Deno.test({
  name: "a member whose certificate does not name the host the others reach it by says so at start",
  ignore: !hasOpenssl(),
  fn: () =>
    withTempDir(async (dir) => {
      const ca = await makeTestCa(dir);
      const good = await issueCertificate(ca, dir, "good"); // localhost and 127.0.0.1
      const wrong = await issueCertificate(ca, dir, "wrong", ["DNS:elsewhere.example"]);
      const start = async (name: string, pair: { cert: string; key: string }) => {
        const broker = await startBroker({
          dataDir: `${dir}/${name}`,
          scheme: "https",
          args: [
            "--node-id",
            "n1",
            "--peers",
            `n1=127.0.0.1:${freePort()}`,
            "--peer-tls",
            "--tls-cert",
            pair.cert,
            "--tls-key",
            pair.key,
            "--tls-ca",
            ca.cert,
          ],
        });
        assert.equal(await broker.stop(), 0, broker.output());
        return broker.output();
      };
      assert.doesNotMatch(await start("good", good), /not valid for/);
      // Every member would refuse it when dialling this node or forwarding to it: named here,
      // on the node to fix, not only in the others' logs.
      assert.match(
        await start("wrong", wrong),
        new RegExp(
          `cmqd n1: WARNING: --tls-cert ${wrong.cert.replaceAll(".", "\\.")}: the certificate is ` +
            "not valid for 127\\.0\\.0\\.1, which the other members reach this node by: they " +
            "will refuse it \\(it names DNS:elsewhere\\.example; a TLS client checks the " +
            "subjectAltName, not the common name\\)",
        ),
      );
    }),
});
