import assert from "node:assert/strict";
import { MemberUrls } from "./member_urls.ts";

function urlsOf(recorded: Record<string, string>, announced: Record<string, string>) {
  const warnings: string[] = [];
  const urls = new MemberUrls({
    nodeId: "n1",
    url: "http://n1:9876",
    recorded: (id) => recorded[id] ?? null,
    announced: (id) => announced[id] ?? null,
    warn: (message) => warnings.push(message),
  });
  return { urls, warnings };
}

Deno.test("a member's announced URL wins over its record, which serves until a hello arrives", () => {
  const recorded: Record<string, string> = { n2: "http://old-n2:9876", n3: "http://n3:9876" };
  const announced: Record<string, string> = { n1: "http://elsewhere", n3: "http://n3:9876" };
  const { urls, warnings } = urlsOf(recorded, announced);
  assert.equal(urls.of("n1"), "http://n1:9876", "this node's own URL");
  assert.equal(urls.of("n2"), "http://old-n2:9876", "no hello yet: the record");
  assert.equal(urls.of("n4"), null);
  assert.deepEqual(warnings, []);
  announced.n2 = "http://n2:9876";
  assert.equal(urls.of("n2"), "http://n2:9876");
  assert.equal(urls.of("n2"), "http://n2:9876");
  assert.equal(urls.of("n3"), "http://n3:9876");
  assert.equal(warnings.length, 1, "once for the mismatch");
  assert.match(warnings[0], /member n2 is recorded at client URL http:\/\/old-n2:9876 but/);
  assert.match(warnings[0], /requests are forwarded to http:\/\/n2:9876/);
  assert.match(warnings[0], /remove n2 and join it again/);
  // Another mismatch (the member moved again) is told too.
  announced.n2 = "http://n2:9999";
  assert.equal(urls.of("n2"), "http://n2:9999");
  assert.equal(warnings.length, 2);
  assert.deepEqual(urls.all("n2"), ["http://n2:9999", "http://old-n2:9876"]);
  assert.deepEqual(urls.all("n3"), ["http://n3:9876"]);
  assert.deepEqual(urls.all("n1"), ["http://n1:9876"]);
});

Deno.test("the members' URLs are read again when the applied index or an announced URL moves", () => {
  const recorded: Record<string, string> = { n2: "http://old-n2:9876" };
  const announced: Record<string, string> = {};
  const { urls } = urlsOf(recorded, announced);
  let idsCalls = 0;
  const ids = () => {
    idsCalls++;
    return ["n1", "n2"];
  };
  assert.deepEqual(urls.ofMembers(5, ids), ["http://n1:9876", "http://old-n2:9876"]);
  assert.deepEqual(urls.ofMembers(5, ids), ["http://n1:9876", "http://old-n2:9876"]);
  assert.equal(idsCalls, 1);
  announced.n2 = "http://n2:9876";
  assert.deepEqual(urls.ofMembers(5, ids), [
    "http://n1:9876",
    "http://n2:9876",
    "http://old-n2:9876",
  ]);
  assert.equal(idsCalls, 1, "a hello changes no configuration");
  recorded.n2 = "http://n2:9876";
  assert.deepEqual(urls.ofMembers(6, ids), ["http://n1:9876", "http://n2:9876"]);
  assert.equal(idsCalls, 2);
});
