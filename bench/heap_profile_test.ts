/**
 * The heap profiler: its summary of a profile tree, and a real sample taken over the inspector
 * protocol from a child Deno process that allocates in a function we name.
 */
import assert from "node:assert/strict";
import { type HeapProfileNode, inspectorTarget, sampleHeap, summarize } from "./heap_profile.ts";

function node(name: string, selfSize: number, children: HeapProfileNode[] = []): HeapProfileNode {
  return {
    callFrame: { functionName: name, url: "file:///x/a.ts", lineNumber: 0 },
    selfSize,
    children,
  };
}

Deno.test("summarize sums bytes per site, by itself and with callees, a recursive site once", () => {
  const root = node("(root)", 0, [
    node("outer", 10, [node("inner", 30), node("outer", 5, [node("inner", 7)])]),
    node("inner", 1),
  ]);
  const summary = summarize(root);
  assert.equal(summary.totalBytes, 53);
  assert.deepEqual(summary.self, [["inner a.ts:1", 38], ["outer a.ts:1", 15]]);
  assert.deepEqual(summary.inclusive, [
    ["(root) a.ts:1", 53],
    ["outer a.ts:1", 52],
    ["inner a.ts:1", 38],
  ]);
});

const allocator = `
const kept = [];
function allocateStrings() {
  for (let i = 0; i < 2000; i++) kept.push("x".repeat(100 + (i % 50)) + i);
  if (kept.length > 50000) kept.length = 0;
}
setInterval(allocateStrings, 5);
`;

Deno.test("sampleHeap finds the function that allocates in another process", async () => {
  const dir = await Deno.makeTempDir();
  const script = `${dir}/allocate.js`;
  await Deno.writeTextFile(script, allocator);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--inspect=127.0.0.1:0", script],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  try {
    let seen = "";
    let webSocketUrl: string | undefined;
    while (webSocketUrl === undefined) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the child ended before its inspector listened: ${seen}`);
      seen += value;
      webSocketUrl = /ws:\/\/[^\s]+/.exec(seen)?.[0];
    }
    const hostPort = new URL(webSocketUrl).host;
    assert.equal(await inspectorTarget(hostPort), webSocketUrl);
    const summary = summarize(await sampleHeap(webSocketUrl, 1, 4096), 100);
    assert.ok(summary.totalBytes > 0);
    const site = summary.self.find(([name]) => name.startsWith("allocateStrings allocate.js:"));
    assert.ok(site !== undefined, `allocateStrings among ${JSON.stringify(summary.self)}`);
    // Its own strings, and those of the builtins it calls (`repeat` is a site of its own).
    const withCallees = summary.inclusive.find(([name]) => name === site[0]);
    assert.ok(withCallees![1] > summary.totalBytes / 2, "most of what the process allocated");
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await reader.cancel().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
