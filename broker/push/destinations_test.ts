import assert from "node:assert/strict";
import { Http1Transport } from "../../sdk/mod.ts";
import { hasOpenssl, issueCertificate, makeTestCa } from "../transport/testing/certificates.ts";
import { PushDestinations, PushRefused } from "./destinations.ts";
import { PushHttpClient } from "./http_client.ts";
import { parseNetworks } from "./networks.ts";

const init = () => ({
  method: "POST",
  headers: { "content-type": "text/plain" },
  body: "x",
  signal: AbortSignal.timeout(5_000),
});

/** A raw HTTP sink on 127.0.0.1 that counts connections and answers every request 204. */
function countingSink() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open: Deno.Conn[] = [];
  const hosts: string[] = [];
  const serving = (async () => {
    for await (const conn of listener) {
      open.push(conn);
      (async () => {
        const buffer = new Uint8Array(65536);
        for (;;) {
          const read = await conn.read(buffer).catch(() => null);
          if (read === null) break;
          const text = new TextDecoder().decode(buffer.subarray(0, read));
          hosts.push(/\r\nhost: ([^\r]*)\r\n/.exec(text)?.[1] ?? "");
          await conn.write(new TextEncoder().encode("HTTP/1.1 204 No Content\r\n\r\n"));
        }
      })();
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    hosts,
    get connections() {
      return open.length;
    },
    async close() {
      listener.close();
      for (const conn of open) conn.close();
      await serving.catch(() => {});
    },
  };
}

async function refused(client: PushHttpClient, url: string, reason: RegExp): Promise<void> {
  await assert.rejects(() => client.fetch(url, init()), (error: Error) => {
    assert.ok(error instanceof PushRefused, `${error}`);
    assert.match(error.message, reason);
    return true;
  });
}

Deno.test("a denied network refuses literal addresses, IPv4-mapped ones and names resolving into it; nothing connects", async () => {
  const sink = countingSink();
  const client = new PushHttpClient(
    {},
    new PushDestinations({ deny: parseNetworks("loopback, 10.0.0.0/8") }),
  );
  try {
    const port = sink.port;
    await refused(
      client,
      `http://127.0.0.1:${port}/cb`,
      new RegExp(
        `^push to 127\\.0\\.0\\.1 port ${port} refused: 127\\.0\\.0\\.1 is in loopback ` +
          "127\\.0\\.0\\.0/8, which --push-deny-networks excludes$",
      ),
    );
    await refused(client, `http://[::ffff:127.0.0.1]:${port}/`, /::ffff:7f00:1 is in loopback/);
    await refused(client, `http://0.0.0.0:${port}/`, /0\.0\.0\.0 is in loopback 127\.0\.0\.0\/8/);
    await refused(client, `http://2130706433:${port}/`, /127\.0\.0\.1 is in loopback/);
    await refused(
      client,
      `http://localhost:${port}/`,
      new RegExp(`^push to localhost \\(127\\.0\\.0\\.1[^)]*\\) port ${port} refused: .* loopback`),
    );
    assert.equal(sink.connections, 0, "no refused push connected");
  } finally {
    client.close();
    await sink.close();
  }
});

Deno.test("an IPv4-mapped network in the list denies the IPv4 addresses", async () => {
  const sink = countingSink();
  const client = new PushHttpClient(
    {},
    new PushDestinations({ deny: parseNetworks("::ffff:127.0.0.0/104") }),
  );
  try {
    await refused(client, `http://127.0.0.1:${sink.port}/`, /127\.0\.0\.0\/8, which/);
    assert.equal(sink.connections, 0);
  } finally {
    client.close();
    await sink.close();
  }
});

Deno.test("an IPv6 network covering the IPv4-mapped block (::/0) denies IPv4 addresses, mapped or not", async () => {
  const sink = countingSink();
  const client = new PushHttpClient({}, new PushDestinations({ deny: parseNetworks("::/0") }));
  try {
    const port = sink.port;
    await refused(client, `http://127.0.0.1:${port}/`, /127\.0\.0\.1 is in ::\/0, which/);
    await refused(client, `http://[::ffff:127.0.0.1]:${port}/`, /::ffff:7f00:1 is in ::\/0/);
    await refused(client, `http://[::1]:${port}/`, /::1 is in ::\/0/);
    assert.equal(sink.connections, 0);
  } finally {
    client.close();
    await sink.close();
  }
});

Deno.test("an allowed endpoint still gets its pushes; the own listener's port elsewhere is not it", async () => {
  const sink = countingSink();
  // This node's API is on another port of the same host: the sink is another service.
  const client = new PushHttpClient(
    {},
    new PushDestinations({
      deny: parseNetworks("private, link-local"),
      listener: { host: "127.0.0.1", port: sink.port + 1 },
    }),
  );
  try {
    for (const host of ["127.0.0.1", "localhost"]) {
      assert.equal((await client.fetch(`http://${host}:${sink.port}/cb`, init())).status, 204);
    }
    assert.deepEqual(sink.hosts, [`127.0.0.1:${sink.port}`, `localhost:${sink.port}`]);
  } finally {
    client.close();
    await sink.close();
  }
});

Deno.test("the node's own API listener is refused whatever the list: loopback, mapped, unspecified, its names", async () => {
  const sink = countingSink(); // stands for the node's own API listener
  const port = sink.port;
  const client = new PushHttpClient(
    {},
    new PushDestinations({ listener: { host: "127.0.0.1", port } }),
  );
  try {
    const own = `port ${port} is this node's own API listener \\(a push there would publish ` +
      "into this broker again\\)$";
    for (
      const url of [
        `http://127.0.0.1:${port}/v2/index.php?Action=PublishMessage&topicName=loop&msgBody=x`,
        `http://127.0.0.2:${port}/`,
        `http://[::ffff:127.0.0.1]:${port}/`,
        `http://[::1]:${port}/`,
        `http://0.0.0.0:${port}/`,
        `http://[::]:${port}/`,
        `http://localhost:${port}/`,
      ]
    ) {
      await refused(client, url, new RegExp(own));
    }
    assert.equal(sink.connections, 0);
  } finally {
    client.close();
    await sink.close();
  }
});

Deno.test("listening on every interface, this host's other addresses are the node's too; other hosts are not", async () => {
  const local = Object.values(Deno.networkInterfaces())
    .map((item) => item.address)
    .find((address) => address !== "127.0.0.1" && !address.includes(":"));
  const destinations = new PushDestinations({ listener: { host: "0.0.0.0", port: 9876 } });
  if (local !== undefined) {
    await assert.rejects(() => destinations.addresses(local, 9876), /own API listener/);
  } else {
    console.log("no non-loopback IPv4 address here: only the other-host half runs");
  }
  await assert.rejects(() => destinations.addresses("127.0.0.1", 9876), /own API listener/);
  // TEST-NET-1: no host has it, so it is not this one.
  assert.deepEqual(await destinations.addresses("192.0.2.1", 9876), ["192.0.2.1"]);
  assert.deepEqual(await destinations.addresses("127.0.0.1", 9877), ["127.0.0.1"]);
});

Deno.test("a cluster member's API (by its client URL) is refused at its port, by address or name", async () => {
  const destinations = new PushDestinations({
    listener: { host: "127.0.0.1", port: 9876 },
    memberUrls: () => ["http://127.0.0.1:9876", "http://localhost:9886", "https://10.0.0.2"],
  });
  await assert.rejects(
    () => destinations.addresses("127.0.0.1", 9886),
    /127\.0\.0\.1 port 9886 is the API of cluster member http:\/\/localhost:9886/,
  );
  await assert.rejects(() => destinations.addresses("10.0.0.2", 443), /http.*10\.0\.0\.2 \(/);
  assert.deepEqual(await destinations.addresses("10.0.0.2", 80), ["10.0.0.2"]);
  assert.deepEqual(await destinations.addresses("10.0.0.3", 443), ["10.0.0.3"]);
});

Deno.test("a name's denied addresses are skipped: the connection goes to the checked address, the host header keeps the name", async () => {
  const sink = countingSink();
  const dialled: string[] = [];
  const resolved: string[] = [];
  const client = new PushHttpClient(
    {},
    new PushDestinations({
      deny: parseNetworks("10.0.0.0/8"),
      // A rebinding resolver: another answer each time; only what was checked is dialled.
      resolve: (name) => {
        resolved.push(name);
        return Promise.resolve(resolved.length === 1 ? ["10.1.2.3", "127.0.0.1"] : ["10.9.9.9"]);
      },
      connect: (address, port) => {
        dialled.push(address);
        return Deno.connect({ hostname: address, port });
      },
    }),
  );
  try {
    const url = `http://sink.test:${sink.port}/cb`;
    assert.equal((await client.fetch(url, init())).status, 204);
    assert.deepEqual(dialled, ["127.0.0.1"]);
    assert.deepEqual(sink.hosts, [`sink.test:${sink.port}`]);
    // The kept-alive connection serves the next push; a new one would resolve (and refuse) again.
    assert.equal((await client.fetch(url, init())).status, 204);
    client.close();
    await refused(client, url, /sink\.test \(10\.9\.9\.9\) port \d+ refused: 10\.9\.9\.9 is in/);
    assert.deepEqual(dialled, ["127.0.0.1"]);
  } finally {
    client.close();
    await sink.close();
  }
});

Deno.test("a name that does not resolve is a connect failure, not a refusal", async () => {
  const destinations = new PushDestinations();
  await assert.rejects(
    () => destinations.addresses("no-such-host.invalid", 80),
    (error: Error) =>
      !(error instanceof PushRefused) && /^tcp connect error: no-such/.test(error.message),
  );
});

Deno.test({
  name: "https to a checked address: TLS names and verifies the URL's host, not the address",
  ignore: !hasOpenssl(),
  async fn() {
    const dir = await Deno.makeTempDir();
    const ca = await makeTestCa(dir);
    const server = await issueCertificate(ca, dir, "push", ["DNS:push.test"]);
    const https = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      cert: await Deno.readTextFile(server.cert),
      key: await Deno.readTextFile(server.key),
      onListen() {},
    }, (request) => new Response(new URL(request.url).host));
    const dialled: string[] = [];
    const destinations = new PushDestinations({
      resolve: () => Promise.resolve(["127.0.0.1"]),
      connect: (address, port) => {
        dialled.push(address);
        return Deno.connect({ hostname: address, port });
      },
    });
    const transport = new Http1Transport({
      caCertificates: [await Deno.readTextFile(ca.cert)],
      connectTcp: destinations.connect,
    });
    try {
      const answer = await transport.request({
        url: `https://push.test:${https.addr.port}/`,
        method: "GET",
        headers: {},
        signal: AbortSignal.timeout(5_000),
      });
      assert.equal(await answer.text(), `push.test:${https.addr.port}`);
      assert.deepEqual(dialled, ["127.0.0.1"]);
    } finally {
      transport.close();
      await https.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("a kept-alive connection is not reused once its address became a member's API, in flight or idle", async () => {
  const sink = countingSink();
  const members: string[] = [];
  let joinOnConnect = false;
  const client = new PushHttpClient(
    {},
    new PushDestinations({
      memberUrls: () => members,
      connect: async (address, port) => {
        const conn = await Deno.connect({ hostname: address, port });
        // The change lands after this connection was checked, while its push is in flight.
        if (joinOnConnect) members.push(`http://127.0.0.1:${port}`);
        return conn;
      },
    }),
  );
  try {
    const url = `http://127.0.0.1:${sink.port}/cb`;
    assert.equal((await client.fetch(url, init())).status, 204);
    assert.equal(sink.connections, 1);
    // A node at the sink's address joins the cluster: a push there would publish into it again.
    members.push(`http://127.0.0.1:${sink.port}`);
    await refused(client, url, /is the API of cluster member/);
    assert.equal(sink.hosts.length, 1, "nothing more was sent over the idle connection");
    members.pop();
    // A change while a push is in flight: its connection goes idle afterwards, and is not taken.
    joinOnConnect = true;
    assert.equal((await client.fetch(url, init())).status, 204);
    assert.equal(members.length, 1);
    await refused(client, url, /is the API of cluster member/);
    assert.equal(sink.hosts.length, 2);
  } finally {
    client.close();
    await sink.close();
  }
});

Deno.test("IPv6 addresses that carry an IPv4 address (compatible, translated, NAT64, 6to4, Teredo) are denied as that address", async () => {
  const destinations = new PushDestinations({
    deny: parseNetworks("loopback, private, link-local"),
    resolve: () => Promise.resolve(["64:ff9b::a00:1", "2002:a9fe:a9fe::1", "192.0.2.7"]),
  });
  const cases: [string, string, string][] = [
    ["[::7f00:1]", "127.0.0.1", "loopback 127.0.0.0/8"], // IPv4-compatible ::127.0.0.1
    ["[::ffff:0:7f00:1]", "127.0.0.1", "loopback 127.0.0.0/8"], // IPv4-translated
    ["[64:ff9b::a00:1]", "10.0.0.1", "private 10.0.0.0/8"], // NAT64 well-known prefix
    ["[64:ff9b:1::a9fe:a9fe]", "169.254.169.254", "link-local 169.254.0.0/16"], // local-use /96
    ["[64:ff9b:1:c0a8:1:100::]", "192.168.1.1", "private 192.168.0.0/16"], // local-use /48
    ["[2002:a9fe:a9fe::1]", "169.254.169.254", "link-local 169.254.0.0/16"], // 6to4
    ["[2001:0:4136:e378::f5ff:fffe]", "10.0.0.1", "private 10.0.0.0/8"], // Teredo client
  ];
  for (const [host, carried, range] of cases) {
    const address = host.slice(1, -1);
    await assert.rejects(
      () => destinations.addresses(host, 80),
      (error: Error) => {
        assert.ok(error instanceof PushRefused, `${host}: ${error}`);
        assert.equal(
          error.message,
          `push to ${host} port 80 refused: ${address} (carrying ${carried}) is in ${range}, ` +
            "which --push-deny-networks excludes",
        );
        return true;
      },
    );
  }
  // A name can't smuggle one in among its addresses: only the allowed one is dialled.
  assert.deepEqual(await destinations.addresses("mixed.test", 80), ["192.0.2.7"]);
  // Those carrying an address the list allows still go out (NAT64 to a public host).
  assert.deepEqual(await destinations.addresses("[64:ff9b::808:808]", 80), ["64:ff9b::808:808"]);
  // And this node's API listener, reached through one of them, is refused whatever the list.
  const own = new PushDestinations({ listener: { host: "127.0.0.1", port: 9876 } });
  await assert.rejects(
    () => own.addresses("[::7f00:1]", 9876),
    /\(carrying 127\.0\.0\.1\) port 9876 is this node's own API/,
  );
});

Deno.test("every spelling of a loopback host in a URL is refused: decimal, hex, octal, short, hex-mapped IPv6", async () => {
  const sink = countingSink();
  const client = new PushHttpClient({}, new PushDestinations({ deny: parseNetworks("loopback") }));
  try {
    const port = sink.port;
    for (
      const host of [
        "2130706433",
        "0x7f.1",
        "0x7f000001",
        "127.1",
        "0177.0.0.1",
        "127.0.0.1.",
        "[::ffff:7f00:1]",
        "[0:0:0:0:0:0:0:1]",
      ]
    ) {
      await refused(client, `http://${host}:${port}/`, /is in loopback/);
    }
    assert.equal(sink.connections, 0, "no spelling connected");
  } finally {
    client.close();
    await sink.close();
  }
});

Deno.test("a resolver answer that is not an IP address is refused, a zoned one matched as its address", async () => {
  const destinations = new PushDestinations({
    deny: parseNetworks("link-local"),
    resolve: () => Promise.resolve(["fe80::1%lo", "sink.test", "192.0.2.9"]),
  });
  assert.deepEqual(await destinations.addresses("odd.test", 80), ["192.0.2.9"]);
  const only = new PushDestinations({ resolve: () => Promise.resolve(["sink.test"]) });
  await assert.rejects(
    () => only.addresses("odd.test", 80),
    /^PushRefused: push to odd\.test \(sink\.test\) port 80 refused: sink\.test is not an IP address$/,
  );
});
