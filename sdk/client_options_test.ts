import assert from "node:assert/strict";
import { CmqdClient } from "./mod.ts";

Deno.test("attemptsMax below 1 is refused", () => {
  assert.throws(
    () => new CmqdClient({ baseUrl: "http://x", retry: { attemptsMax: 0 } }),
    RangeError,
  );
});

Deno.test("an empty node list is refused", () => {
  assert.throws(() => new CmqdClient({ baseUrl: [] }), RangeError);
});

Deno.test("a baseUrl that is not an http(s) URL throws when the client is built", () => {
  for (const baseUrl of ["not a url", "ftp://node-a:21", "127.0.0.1:8080"]) {
    assert.throws(() => new CmqdClient({ baseUrl }), TypeError, baseUrl);
    assert.throws(() => new CmqdClient({ baseUrl: ["http://node-a:8080", baseUrl] }), TypeError);
  }
  new CmqdClient({ baseUrl: ["http://node-a:8080/", "https://[::1]:8443"] }).close();
});

Deno.test("a header that can't be sent throws when the client is built, naming it", () => {
  // Before, every call failed in the transport ("bad header"), was taken for a NetworkError and
  // was retried with back-off, though no attempt could ever be sent.
  const baseUrl = "http://node-a:8080";
  const unsendable: [string, string][] = [
    ["x-trace", "a\r\nx-injected: 1"],
    ["x-trace", "a\nb"],
    ["x-trace", "a\rb"],
    ["x-trace", "a\0b"],
    ["x trace", "a"],
    ["x-trace:", "a"],
    ["", "a"],
  ];
  for (const [name, value] of unsendable) {
    assert.throws(
      () => new CmqdClient({ baseUrl, headers: { "x-ok": "1", [name]: value } }),
      TypeError,
      `header '${name}'`,
    );
  }
  // A tab, spaces and latin-1 in a value, and every token character in a name, are fine.
  new CmqdClient({
    baseUrl,
    headers: { "x-trace": "a\tb  é", "!#$%&'*+-.^_`|~09AZaz": "" },
  }).close();
});
