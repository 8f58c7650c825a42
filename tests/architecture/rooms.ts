/**
 * The dependency rules of the repository, as code (the README's "Architecture" section says the
 * same in prose). `checkRules` takes every TypeScript file with its imports and answers the list
 * of broken rules; `rooms_test.ts` runs it over the working tree and over made-up trees that
 * break each rule once.
 *
 * A **room** is a folder of `broker/` (`engine`, `replication`, `transport`, `service`, `push`,
 * `cluster`, `auth`, `http`, and each door under `http/`), or a top-level folder (`raft`,
 * `storage`, `sdk`), or `main.ts`. A file is **test-only** when it is a `_test.ts` or `_bench.ts`
 * file, starts with `_`, sits in a `testing/` folder, or is `broker/testing.ts`; everything else
 * is production code.
 *
 * @module
 */

/** One import of a file: the resolved target (repository-relative) and whether it is type-only. */
export interface ImportEdge {
  target: string;
  typeOnly: boolean;
  /** The imported names (empty for `export *`, side-effect and namespace imports). */
  names: string[];
}

/** A file and its imports. */
export interface SourceFile {
  path: string;
  lines: number;
  imports: ImportEdge[];
  /** Source text (for the purity check of the engine). */
  text: string;
}

/** Production files longer than this are asking to be split by concern. */
export const productionLinesMax = 600;

/**
 * Test files too (`tests/`, `bench/` and the test-only files beside the code): one concern per
 * file, fixtures they share in a `_name.ts` module beside them.
 */
export const testLinesMax = 600;

/** Test files still longer than `testLinesMax`: to be split by concern, and none to join them. */
export const oversizedTests: readonly string[] = [];

const brokerRooms = [
  "http/v1",
  "http/cmq_v2",
  "http/sqs",
  "engine",
  "replication",
  "transport",
  "service",
  "push",
  "cluster",
  "auth",
  "http",
];

/** The room a repository path belongs to. */
export function roomOf(path: string): string {
  if (path === "main.ts") return "main";
  if (path.startsWith("broker/")) {
    const rest = path.slice("broker/".length);
    for (const room of brokerRooms) {
      if (rest.startsWith(room + "/")) return room;
    }
    return "broker";
  }
  const top = path.split("/")[0];
  return top.startsWith("npm:") || top.startsWith("node:") ? "external" : top;
}

/** True for test-only files (never imported by production code, never in `main.ts`'s graph). */
export function isTestOnly(path: string): boolean {
  const name = path.split("/").at(-1)!;
  return name.endsWith("_test.ts") || name.endsWith("_bench.ts") || name.startsWith("_") ||
    path.includes("/testing/") || path === "broker/testing.ts" || path.startsWith("tests/") ||
    path.startsWith("bench/");
}

/**
 * What each production room may import (besides itself, `node:` built-ins and external npm
 * packages listed in `externalAllowed`).
 */
export const allowedRooms: Readonly<Record<string, readonly string[]>> = {
  engine: ["sdk"],
  replication: ["raft", "storage"],
  transport: ["raft"],
  auth: [],
  service: ["engine", "replication", "auth", "sdk"],
  push: ["service", "engine", "sdk"],
  http: ["service", "auth", "http/v1", "http/cmq_v2", "http/sqs", "sdk"],
  "http/v1": ["service", "auth", "sdk"],
  "http/cmq_v2": ["service", "auth", "sdk"],
  "http/sqs": ["service", "auth", "sdk"],
  cluster: [
    "engine",
    "replication",
    "transport",
    "service",
    "push",
    "auth",
    "http",
    "raft",
    "storage",
    "sdk",
  ],
  broker: ["cluster", "transport"],
  raft: [],
  storage: [],
  sdk: [],
  main: ["broker", "raft", "storage", "sdk"],
};

/** npm packages per room; a room not listed may use none. */
const externalAllowed: Readonly<Record<string, readonly string[]>> = {
  http: ["hono", "@hono/zod-openapi", "zod"],
  "http/v1": ["hono", "@hono/zod-openapi", "zod"],
  "http/cmq_v2": ["hono"],
  "http/sqs": ["hono"],
};

/** Engine files whose bytes are the on-disk format: they may not depend on the SDK's types. */
const diskFormatFiles = [
  "broker/engine/commands.ts",
  "broker/engine/handle_commands.ts",
  "broker/engine/state_codec.ts",
  "broker/engine/topic_commands.ts",
  "broker/engine/push_state.ts",
];

/** What the service may take from replication as values (the rest must be type-only). */
const serviceReplicationValues = ["ReplicationError"];

/** Tokens that would make the engine impure (time, randomness, I/O, timers). */
const impureTokens = [
  "Date.now",
  "new Date(",
  "Math.random",
  "crypto.",
  "setTimeout",
  "setInterval",
  "queueMicrotask",
  "Deno.",
  "performance.",
  "fetch(",
];

/** Every broken rule, one line each; empty when the tree keeps them all. */
export function checkRules(files: readonly SourceFile[]): string[] {
  const problems: string[] = [];
  for (const file of files) {
    problems.push(...checkFile(file));
  }
  problems.push(...roomCycles(files));
  return problems;
}

function checkFile(file: SourceFile): string[] {
  const problems: string[] = [];
  const from = roomOf(file.path);
  const testOnly = isTestOnly(file.path);
  if (from === "broker" && !["broker/mod.ts", "broker/testing.ts"].includes(file.path)) {
    problems.push(`${file.path}: broker/ holds only mod.ts and testing.ts; put it in a room`);
  }
  // A generated file (`*.gen.ts`) is as long as its source makes it; nobody edits it by hand.
  if (!testOnly && file.lines > productionLinesMax && !file.path.endsWith(".gen.ts")) {
    problems.push(`${file.path}: ${file.lines} lines (at most ${productionLinesMax})`);
  }
  if (testOnly && file.lines > testLinesMax && !oversizedTests.includes(file.path)) {
    problems.push(`${file.path}: ${file.lines} lines (at most ${testLinesMax} in a test file)`);
  }
  if (!testOnly && from === "engine") problems.push(...checkPurity(file));
  for (const edge of file.imports) {
    problems.push(...checkEdge(file, from, testOnly, edge));
  }
  return problems;
}

function checkPurity(file: SourceFile): string[] {
  const code = file.text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
  return impureTokens.filter((token) => code.includes(token)).map((token) =>
    `${file.path}: the engine is pure, but it uses ${token}`
  );
}

function checkEdge(file: SourceFile, from: string, testOnly: boolean, edge: ImportEdge): string[] {
  const target = edge.target;
  if (target.startsWith("node:")) return [];
  const to = roomOf(target);
  const where = `${file.path} → ${target}`;
  if (target.startsWith("npm:")) {
    if (testOnly) return [];
    // `npm:hono@4`, `npm:/hono@4/`, `npm:@hono/zod-openapi@1` → the package name.
    const name = target.slice(4).replace(/^\//, "").replace(/^(@?[^@]+)@.*$/, "$1");
    const allowed = externalAllowed[from] ?? [];
    return allowed.some((prefix) => name === prefix || name.startsWith(prefix + "/"))
      ? []
      : [`${where}: ${from} may not use npm packages other than [${allowed.join(", ")}]`];
  }
  if (!testOnly && isTestOnly(target)) return [`${where}: production code imports a test file`];
  if (to === from) return [];
  const problems: string[] = [];
  if (testOnly) return problems;
  // The v1 wire types are the one shared vocabulary of the broker's rooms and the SDK.
  const wireTypes = target === "sdk/protocol.ts" && file.path.startsWith("broker/");
  if (!target.endsWith("/mod.ts") && !wireTypes) {
    problems.push(`${where}: across rooms, import the room's mod.ts`);
  }
  if (from === "broker/mod.ts") return problems;
  const allowed = allowedRooms[from];
  if (allowed !== undefined && !allowed.includes(to)) {
    problems.push(`${where}: ${from} may not import ${to}`);
  }
  if (diskFormatFiles.includes(file.path) && to === "sdk") {
    problems.push(`${where}: the on-disk command format may not depend on SDK types`);
  }
  if (from === "service" && to === "replication" && !edge.typeOnly) {
    const values = edge.names.filter((name) => !serviceReplicationValues.includes(name));
    if (values.length > 0) {
      problems.push(`${where}: service uses replication only through interfaces (${values})`);
    }
  }
  return problems;
}

/** Cycles in the graph of production imports between rooms. */
function roomCycles(files: readonly SourceFile[]): string[] {
  const graph = new Map<string, Set<string>>();
  for (const file of files) {
    if (isTestOnly(file.path)) continue;
    const from = roomOf(file.path);
    for (const edge of file.imports) {
      const to = roomOf(edge.target);
      if (to === from || to === "external" || edge.target.startsWith("node:")) continue;
      if (edge.target.startsWith("npm:")) continue;
      if (!graph.has(from)) graph.set(from, new Set());
      graph.get(from)!.add(to);
    }
  }
  const problems: string[] = [];
  const state = new Map<string, "active" | "done">();
  const visit = (room: string, path: string[]) => {
    if (state.get(room) === "done") return;
    if (state.get(room) === "active") {
      problems.push(`rooms import each other in a cycle: ${[...path, room].join(" → ")}`);
      return;
    }
    state.set(room, "active");
    for (const next of graph.get(room) ?? []) visit(next, [...path, room]);
    state.set(room, "done");
  };
  for (const room of [...graph.keys()].sort()) visit(room, []);
  return problems;
}

const importPattern =
  /(?:^|\n)\s*(import|export)\s+(type\s+)?([\s\S]*?)\s*from\s*["']([^"']+)["']|(?:^|\n)\s*import\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

/** The imports of a source text, resolved against `path` and the import map's npm aliases. */
export function parseImports(
  path: string,
  text: string,
  aliases: Readonly<Record<string, string>>,
): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const match of text.matchAll(importPattern)) {
    const specifier = match[4] ?? match[5] ?? match[6];
    const clause = match[3] ?? "";
    // Value names only: `type X` inside braces imports a type.
    const names = [...clause.matchAll(/(?:^|[{,])\s*(type\s+)?([A-Za-z_$][\w$]*)/g)]
      .filter((name) => name[1] === undefined).map((name) => name[2]);
    const inlineTypes = /^\{[^}]*\}$/s.test(clause.trim()) &&
      clause.replace(/[{}\s]/g, "").split(",").filter(Boolean).every((name) =>
        name.startsWith("type")
      );
    edges.push({
      target: resolve(path, specifier, aliases),
      typeOnly: match[2] !== undefined || inlineTypes,
      names: clause.includes("*") ? [] : names.filter((name) => name !== "type"),
    });
  }
  return edges;
}

function resolve(from: string, specifier: string, aliases: Readonly<Record<string, string>>) {
  if (specifier.startsWith("node:") || specifier.startsWith("npm:")) return specifier;
  if (!specifier.startsWith(".")) {
    const alias = Object.entries(aliases).find(([name]) =>
      specifier === name || (name.endsWith("/") && specifier.startsWith(name))
    );
    if (alias === undefined) return `npm:${specifier}`;
    // A local alias (`@cmqd/sdk` → `./sdk/mod.ts`) names a file of the repository.
    return alias[1].startsWith("./") ? alias[1].slice(2) : alias[1];
  }
  const parts = from.split("/").slice(0, -1);
  for (const part of specifier.split("/")) {
    if (part === "..") parts.pop();
    else if (part !== ".") parts.push(part);
  }
  return parts.join("/");
}
