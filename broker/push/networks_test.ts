/**
 * The `--push-deny-networks` parser and matcher (`networks.ts`), generated: a CIDR holds every
 * address in it and neither neighbour, IPv4-mapped forms match as IPv4, an IPv6 network that
 * covers the IPv4-mapped block holds every IPv4 address (and no other does), addresses round-trip
 * through their text (the IPv6 text as the WHATWG URL parser writes it), and odd input is a
 * precise error naming the entry, never another failure.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  effectiveAddress,
  embeddedIpv4,
  formatIp,
  inNetwork,
  type IpAddress,
  parseIp,
  parseNetworks,
} from "./networks.ts";

const ipv4 = (value: bigint): IpAddress => ({ family: 4, value });
const mapped = (value: bigint): IpAddress => ({ family: 6, value: 0xffff00000000n | value });

Deno.test("an IPv4 CIDR holds every address in it, mapped ones too, and not its neighbours", () => {
  fc.assert(
    fc.property(
      fc.bigInt({ min: 0n, max: 0xffffffffn }),
      fc.integer({ min: 0, max: 32 }),
      fc.bigInt({ min: 0n, max: 0xffffffffn }),
      (address, prefixBits, offset) => {
        const size = 1n << BigInt(32 - prefixBits);
        const base = address - (address % size);
        const cidr = `${formatIp(ipv4(base))}/${prefixBits}`;
        const [network] = parseNetworks(cidr);
        assert.equal(network.cidr, cidr);
        // The same network written as an IPv4-mapped IPv6 one.
        const [viaMapped] = parseNetworks(`${formatIp(mapped(base))}/${prefixBits + 96}`);
        assert.deepEqual({ ...viaMapped, entry: cidr }, { ...network, entry: cidr });
        for (const inside of [base, base + size - 1n, base + (offset % size)]) {
          // 0.0.0.0 connects to loopback: it is matched as 127.0.0.1 (the module's note).
          if (inside === 0n) continue;
          for (const form of [ipv4(inside), mapped(inside)]) {
            const parsed = parseIp(formatIp(form))!;
            assert.ok(inNetwork(effectiveAddress(parsed), network), `${formatIp(form)} in ${cidr}`);
          }
        }
        for (const outside of [base - 1n, base + size]) {
          if (outside < 1n || outside > 0xffffffffn) continue;
          assert.ok(!inNetwork(ipv4(outside), network), `${formatIp(ipv4(outside))} in ${cidr}`);
          assert.ok(!inNetwork(effectiveAddress(mapped(outside)), network));
        }
      },
    ),
    { numRuns: 2000, seed: 20260116 },
  );
});

Deno.test("an IPv6 network covering ::ffff:0:0/96 holds every IPv4 address, mapped or not; no other IPv6 network holds one", () => {
  const v6 = (value: bigint): IpAddress => ({ family: 6, value });
  const mappedBlock = 0xffffn << 32n;
  let covering = 0;
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 128 }),
      // Addresses near the mapped block too, or hardly any network would cover it.
      fc.oneof(
        fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }),
        fc.bigInt({ min: 0n, max: (1n << 96n) - 1n }),
        fc.bigInt({ min: mappedBlock, max: mappedBlock | 0xffffffffn }),
      ),
      fc.bigInt({ min: 0n, max: 0xffffffffn }),
      (prefixBits, address, ipv4Address) => {
        const shift = BigInt(128 - prefixBits);
        const base = (address >> shift) << shift;
        const cidr = `${formatIp(v6(base))}/${prefixBits}`;
        const [network] = parseNetworks(cidr);
        // An IPv4 address (0.0.0.0 is matched as 127.0.0.1) is held when its mapped form is in
        // the IPv6 network: a network covering the mapped block, or one inside it (an IPv4 one).
        const effective = ipv4Address === 0n ? 0x7f000001n : ipv4Address;
        const holds = ((mappedBlock | effective) >> shift) << shift === base;
        if (holds && prefixBits <= 96) covering++;
        for (const form of [ipv4(ipv4Address), mapped(ipv4Address)]) {
          const text = formatIp(form);
          const parsed = effectiveAddress(parseIp(text)!);
          assert.equal(inNetwork(parsed, network), holds, `${text} in ${cidr}`);
        }
      },
    ),
    { numRuns: 3000, seed: 20260120 },
  );
  assert.ok(covering > 100, `only ${covering} runs had a network covering the mapped block`);
  const samples: [string, string, boolean][] = [
    ["::/0", "10.1.2.3", true],
    ["::/0", "::ffff:10.1.2.3", true],
    ["::/0", "0.0.0.0", true],
    ["::/0", "2001:db8::1", true],
    ["::/64", "192.168.1.1", true],
    ["::/80", "::ffff:169.254.169.254", true],
    ["::ff00:0:0/88", "8.8.8.8", true],
    ["::ffff:0:0/96", "8.8.8.8", true],
    ["::/81", "10.1.2.3", false],
    ["::/96", "::ffff:10.1.2.3", false], // ::/96 is the IPv4-compatible block, not the mapped one
    ["64:ff9b::/96", "10.1.2.3", false],
    ["2000::/3", "10.1.2.3", false],
    ["fc00::/7", "::ffff:10.1.2.3", false],
    ["::1/128", "127.0.0.1", false],
    // The other direction, unchanged: IPv4 networks hold IPv4 addresses written mapped.
    ["10.0.0.0/8", "::ffff:10.1.2.3", true],
    ["10.0.0.0/8", "10.1.2.3", true],
    ["0.0.0.0/0", "::ffff:8.8.8.8", true],
    ["0.0.0.0/0", "2001:db8::1", false],
    ["0.0.0.0/0", "::1", false],
    ["127.0.0.0/8", "::ffff:0.0.0.0", true],
  ];
  for (const [cidr, text, holds] of samples) {
    const [network] = parseNetworks(cidr);
    const address = effectiveAddress(parseIp(text)!);
    assert.equal(inNetwork(address, network), holds, `${text} in ${cidr}`);
  }
});

Deno.test("IPv6 text: parsed as the URL parser parses it, written as it writes it", () => {
  const group = fc.oneof(
    fc.integer({ min: 0, max: 0xffff }).map((value) => value.toString(16)),
    fc.constantFrom("0", "00", "0000", "FFFF", "fFfF", "", "12345", "g", "1.2.3.4", "01.2.3.4"),
  );
  fc.assert(
    fc.property(fc.array(group, { maxLength: 10 }), (groups) => {
      const text = groups.join(":");
      const url = URL.parse(`http://[${text}]/`);
      const parsed = parseIp(text);
      const ours = parsed?.family === 6 ? `[${formatIp(parsed)}]` : null;
      assert.equal(ours, url?.hostname ?? null, text);
    }),
    { numRuns: 5000, seed: 20260117 },
  );
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), (value) => {
      const text = formatIp({ family: 6, value });
      assert.deepEqual(parseIp(text), { family: 6, value });
      assert.equal(URL.parse(`http://[${text}]/`)?.hostname, `[${text}]`);
    }),
    { numRuns: 2000, seed: 20260118 },
  );
});

Deno.test("odd entries are refused naming the entry, never with another failure", () => {
  const cases: [string, RegExp][] = [
    ["1.2.3", /'1\.2\.3' is not an IPv4 or IPv6 network/],
    ["1.2.3.4.5", /'1\.2\.3\.4\.5' is not an IPv4/],
    ["010.0.0.0/8", /'010\.0\.0\.0\/8' is not an IPv4/],
    ["256.0.0.0/8", /is not an IPv4/],
    ["10.0.0.0 /8", /'10\.0\.0\.0 \/8' is not an IPv4/],
    ["10.0.0.0/ 8", /the prefix length is not a number/],
    ["10.0.0.0/08", /the prefix length is not a number/],
    ["10.0.0.0/", /the prefix length is not a number/],
    ["10.0.0.0/8/8", /the prefix length is not a number/],
    ["10.0.0.0/33", /an IPv4 prefix has at most 32 bits/],
    ["::/129", /an IPv6 prefix has at most 128 bits/],
    ["fe80::1%eth0/64", /is not an IPv4 or IPv6 network/],
    ["[::1]/128", /is not an IPv4 or IPv6 network/],
    ["1::2::3/64", /is not an IPv4 or IPv6 network/],
    ["1:2:3:4:5:6:7:8:9/64", /is not an IPv4 or IPv6 network/],
    ["::fffff/128", /is not an IPv4 or IPv6 network/],
    ["10.0.0.1/8", /bits set past its \/8 prefix \(did you mean 10\.0\.0\.0\/8\?\)/],
    ["::ffff:10.0.0.1/104", /did you mean 10\.0\.0\.0\/8\?/],
    ["loopback,,private", /an empty entry/],
    ["Loopback Private", /'Loopback Private' is not/],
  ];
  for (const [entry, message] of cases) {
    assert.throws(() => parseNetworks(entry, "--push-deny-networks"), (error: Error) => {
      assert.equal(error.constructor, Error, entry);
      assert.match(error.message, /^--push-deny-networks: /, entry);
      assert.match(error.message, message, entry);
      return true;
    });
  }
  const accepted: [string, string[]][] = [
    ["0.0.0.0/0", ["0.0.0.0/0"]],
    ["::/0", ["::/0"]],
    ["::ffff:0:0/96", ["0.0.0.0/0"]],
    ["FD00::/8, LOOPBACK", ["fd00::/8", "127.0.0.0/8", "::1/128"]],
    ["::FFFF:7F00:0/104", ["127.0.0.0/8"]],
    ["2001:DB8:0:0:0:0:0:0/32", ["2001:db8::/32"]],
    ["0000:0000::0001", ["::1/128"]],
  ];
  for (const [entry, cidrs] of accepted) {
    assert.deepEqual(parseNetworks(entry).map((network) => network.cidr), cidrs, entry);
  }
  const pieces = fc.constantFrom(..."0123456789abcdefABCDEF:./%,[]- xz".split(""), "::", "ffff");
  fc.assert(
    fc.property(fc.array(pieces, { maxLength: 24 }), (parts) => {
      const entry = parts.join("");
      try {
        parseNetworks(entry);
      } catch (error) {
        assert.ok(error instanceof Error && error.constructor === Error, String(error));
        assert.match(error.message, /^--push-deny-networks: /);
      }
    }),
    { numRuns: 3000, seed: 20260119 },
  );
});

Deno.test("an IPv6 address of a block that carries IPv4 addresses gives each one back; other addresses none", () => {
  const v6 = (value: bigint): IpAddress => ({ family: 6, value });
  fc.assert(
    fc.property(
      fc.bigInt({ min: 1n, max: 0xffffffffn }),
      fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      (v4, noise) => {
        const forms: [string, bigint][] = [
          ["compatible", v4 < 2n ? 0n : v4],
          ["translated", (0xffff0000n << 32n) | v4],
          ["NAT64", (0x64ff9bn << 96n) | v4],
          ["local-use NAT64 /96", (0x64ff9b0001n << 80n) | v4],
          ["local-use NAT64 /64", (0x64ff9b0001n << 80n) | (v4 << 24n)],
          ["6to4", (0x2002n << 112n) | (v4 << 80n) | (noise & ((1n << 80n) - 1n))],
          [
            "Teredo client",
            (0x20010000n << 96n) | ((noise & 0xffffffffn) << 64n) | (~v4 & 0xffffffffn),
          ],
        ];
        for (const [name, value] of forms) {
          if (value === 0n) continue;
          const carried = embeddedIpv4(effectiveAddress(v6(value))).map((ipv4) => ipv4.value);
          assert.ok(
            carried.includes(v4),
            `${name} ${formatIp(v6(value))} carries ${formatIp(ipv4(v4))}`,
          );
        }
        // A global unicast address outside those blocks carries none.
        assert.deepEqual(embeddedIpv4(v6((0x2a00n << 112n) | noise)), []);
      },
    ),
    { numRuns: 1000, seed: 20261206 },
  );
  assert.deepEqual(embeddedIpv4(parseIp("::1")!), []);
  assert.deepEqual(embeddedIpv4(parseIp("127.0.0.1")!), []);
});
