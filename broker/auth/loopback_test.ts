import { strict as assert } from "node:assert";
import { isLoopbackAddress } from "./loopback.ts";

Deno.test("loopback addresses in every spelling are recognised", () => {
  for (
    const address of [
      "127.0.0.1",
      "127.255.255.254",
      "127.0.1.1",
      "localhost",
      "LOCALHOST",
      "::1",
      "[::1]",
      "0:0:0:0:0:0:0:1",
      "0000:0000:0000:0000:0000:0000:0000:0001",
      "::0:1",
      "::ffff:127.0.0.1",
      "[::ffff:127.0.0.1]",
      "0:0:0:0:0:ffff:127.1.2.3",
      "::ffff:7f00:1",
    ]
  ) {
    assert.equal(isLoopbackAddress(address), true, address);
  }
});

Deno.test("other addresses, host names and garbage are not loopback", () => {
  for (
    const address of [
      "0.0.0.0",
      "::",
      "[::]",
      "10.0.0.1",
      "128.0.0.1",
      "126.255.255.255",
      "127.0.0.256",
      "127.0.0",
      "::2",
      "1::1",
      "::1:1",
      "::ffff:10.0.0.1",
      "::ffff:8.8.8.8",
      "64:ff9b::127.0.0.1",
      "fe80::1",
      "myhost",
      "localhost.example.com",
      "127.0.0.1.nip.io",
      "",
      ":::1",
      "1:2:3:4:5:6:7:8:9",
      "0:0:0:0:0:0:0:0:1",
      "::12345",
      "g::1",
    ]
  ) {
    assert.equal(isLoopbackAddress(address), false, address);
  }
});
