/**
 * The repository keeps its dependency rules (see `rooms.ts` and the README's "Architecture"):
 * checked over the working tree, and the checker itself checked against trees that break each
 * rule once, so a checker that stopped seeing a rule fails here too.
 */
import assert from "node:assert/strict";
import {
  checkRules,
  isTestOnly,
  oversizedTests,
  parseImports,
  productionLinesMax,
  roomOf,
  type SourceFile,
  testLinesMax,
} from "./rooms.ts";

const root = new URL("../../", import.meta.url);
/** Production code, and the tests and benchmarks (held to the length of a file too). */
const folders = ["broker", "raft", "storage", "sdk", "tests", "bench"];

async function listTypeScript(dir: URL, prefix: string): Promise<string[]> {
  const paths: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${prefix}${entry.name}`;
    if (entry.isDirectory) {
      if (entry.name === "node_modules") continue;
      paths.push(...await listTypeScript(new URL(`${entry.name}/`, dir), `${path}/`));
    } else if (entry.name.endsWith(".ts")) paths.push(path);
  }
  return paths;
}

async function loadTree(): Promise<SourceFile[]> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
  const aliases: Record<string, string> = config.imports;
  const paths = ["main.ts"];
  for (const folder of folders) {
    paths.push(...await listTypeScript(new URL(`${folder}/`, root), `${folder}/`));
  }
  const files: SourceFile[] = [];
  for (const path of paths) {
    const text = await Deno.readTextFile(new URL(path, root));
    files.push({
      path,
      text,
      lines: text.split("\n").length - 1,
      imports: parseImports(path, text, aliases),
    });
  }
  return files;
}

function file(path: string, imports: string[], options: { text?: string; lines?: number } = {}) {
  return {
    path,
    lines: options.lines ?? 10,
    text: options.text ?? "",
    imports: parseImports(path, imports.join("\n"), { hono: "npm:hono@4" }),
  };
}

Deno.test("the working tree keeps every dependency rule", async () => {
  const problems = checkRules(await loadTree());
  assert.deepEqual(problems, [], problems.join("\n"));
});

Deno.test("main.ts's module graph holds no test-only module (no simulator, no test doubles)", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "main.ts"],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(output.success, new TextDecoder().decode(output.stderr));
  const graph = JSON.parse(new TextDecoder().decode(output.stdout)) as {
    modules: { specifier: string }[];
  };
  const local = graph.modules.map((module) => module.specifier)
    .filter((specifier) => specifier.startsWith(root.href))
    .map((specifier) => specifier.slice(root.href.length));
  assert.ok(local.includes("broker/engine/state_machine.ts"), "the graph was read");
  assert.deepEqual(local.filter(isTestOnly), []);
});

Deno.test("rooms and test-only files are named by path", () => {
  assert.equal(roomOf("broker/engine/queue.ts"), "engine");
  assert.equal(roomOf("broker/http/v1/routes.ts"), "http/v1");
  assert.equal(roomOf("broker/http/app.ts"), "http");
  assert.equal(roomOf("broker/mod.ts"), "broker");
  assert.equal(roomOf("raft/node.ts"), "raft");
  assert.equal(roomOf("main.ts"), "main");
  assert.ok(isTestOnly("broker/engine/queue_test.ts"));
  assert.ok(isTestOnly("broker/cluster/testing/memory_engine.ts"));
  assert.ok(isTestOnly("broker/engine/_reference_model.ts"));
  assert.ok(!isTestOnly("broker/engine/queue.ts"));
});

Deno.test("imports are parsed with their names, type-only marks and resolved targets", () => {
  const edges = parseImports(
    "broker/service/service.ts",
    [
      'import { type Proposer, ReplicationError } from "../replication/mod.ts";',
      'import type {\n  Timers,\n} from "../replication/mod.ts";',
      'import { type A, type B } from "../engine/mod.ts";',
      'export * from "./types.ts";',
      'import { Hono } from "hono";',
      'import assert from "node:assert/strict";',
    ].join("\n"),
    { hono: "npm:hono@4" },
  );
  assert.deepEqual(edges.map((edge) => [edge.target, edge.typeOnly]), [
    ["broker/replication/mod.ts", false],
    ["broker/replication/mod.ts", true],
    ["broker/engine/mod.ts", true],
    ["broker/service/types.ts", false],
    ["npm:hono@4", false],
    ["node:assert/strict", false],
  ]);
  assert.deepEqual(edges[0].names, ["ReplicationError"], "type-only names are not values");
});

Deno.test("an import-map alias of a repository file resolves to that file", () => {
  const edges = parseImports("sdk/examples/demo.ts", 'import { CmqdClient } from "@cmqd/sdk";', {
    "@cmqd/sdk": "./sdk/mod.ts",
  });
  assert.deepEqual(edges.map((edge) => edge.target), ["sdk/mod.ts"]);
});

Deno.test("the checker reports each kind of broken rule", () => {
  const cases: [string, SourceFile[], RegExp][] = [
    ["engine imports storage", [
      file("broker/engine/queue.ts", ['import { x } from "../../storage/mod.ts";']),
    ], /engine may not import storage/],
    ["replication imports the engine", [
      file("broker/replication/replica.ts", ['import { x } from "../engine/mod.ts";']),
    ], /replication may not import engine/],
    ["transport imports replication", [
      file("broker/transport/peer_link.ts", ['import type { x } from "../replication/mod.ts";']),
    ], /transport may not import replication/],
    ["http reaches past the service", [
      file("broker/http/app.ts", ['import { x } from "../engine/mod.ts";']),
    ], /http may not import engine/],
    ["raft imports the broker", [
      file("raft/node.ts", ['import { x } from "../broker/mod.ts";']),
    ], /raft may not import broker/],
    ["a room file imported past mod.ts", [
      file("broker/service/service.ts", ['import { x } from "../engine/queue.ts";']),
    ], /import the room's mod.ts/],
    ["production code imports a test double", [
      file("broker/cluster/node.ts", ['import { x } from "./testing/mod.ts";']),
    ], /imports a test file/],
    ["the command codec uses SDK types", [
      file("broker/engine/commands.ts", ['import type { x } from "../../sdk/protocol.ts";']),
    ], /on-disk command format/],
    ["the service uses a concrete replica", [
      file("broker/service/service.ts", ['import { RaftReplica } from "../replication/mod.ts";']),
    ], /only through interfaces/],
    ["a file left in broker/", [file("broker/node.ts", [])], /put it in a room/],
    ["a production file too long", [
      file("broker/engine/queue.ts", [], { lines: productionLinesMax + 1 }),
    ], /lines \(at most/],
    ["a test file too long", [
      file("tests/simulation/simulate.ts", [], { lines: testLinesMax + 1 }),
    ], /lines \(at most 600 in a test file\)/],
    ["a test file beside the code too long", [
      file("broker/engine/queue_test.ts", [], { lines: testLinesMax + 1 }),
    ], /in a test file/],
    ["the engine reads the clock", [
      file("broker/engine/queue.ts", [], { text: "const now = Date.now();" }),
    ], /pure, but it uses Date.now/],
    ["the engine uses hono", [
      file("broker/engine/queue.ts", ['import { Hono } from "hono";']),
    ], /npm packages/],
    ["two rooms import each other", [
      file("broker/service/service.ts", ['import { x } from "../auth/mod.ts";']),
      file("broker/auth/mod.ts", ['import { y } from "../service/mod.ts";']),
    ], /cycle: auth → service → auth/],
  ];
  for (const [name, files, expected] of cases) {
    const problems = checkRules(files);
    assert.ok(problems.some((problem) => expected.test(problem)), `${name}: ${problems}`);
  }
});

Deno.test("allowed imports raise nothing", () => {
  const files = [
    file("broker/service/service.ts", [
      'import { type Proposer, ReplicationError } from "../replication/mod.ts";',
      'import { BrokerError } from "../engine/mod.ts";',
      'import type { Queue } from "../../sdk/protocol.ts";',
    ]),
    file("broker/engine/queue.ts", ['import type { Queue } from "../../sdk/protocol.ts";']),
    file("broker/engine/queue_test.ts", ['import { x } from "../cluster/testing/mod.ts";']),
    file("broker/http/app.ts", [
      'import { Hono } from "hono";',
      'import { x } from "./v1/mod.ts";',
    ]),
    // Generated from the OpenAPI document: as long as the schemas make it.
    file("sdk/openapi_types.gen.ts", [], { lines: productionLinesMax * 3 }),
    // Over the length of a test file, but listed to be split.
    ...oversizedTests.map((path) => file(path, [], { lines: testLinesMax + 1 })),
    file("tests/simulation/simulate.ts", [], { lines: testLinesMax }),
  ];
  assert.deepEqual(checkRules(files), []);
});
