/**
 * `deno task sdk:build`: writes the npm package `@cmqd/sdk` to `dist/npm/` — ESM JavaScript and
 * `.d.ts` declarations, one file per module, an `exports` map (`.` and `./testing`), no runtime
 * dependencies, Node ≥ 20, and the README of `sdk/npm/README.md`.
 *
 * Both the JavaScript and the declarations come from one `tsc` run (TypeScript pinned below,
 * with `@types/node` for the `node:` built-ins of the Node transport and the testing entry).
 * `tsc` rewrites the relative `.ts` imports of the JavaScript to `.js`; the declarations keep
 * `.ts`, so they are rewritten here. The compiler is installed with npm into `dist/.tools/`
 * once (`--prefer-offline`: no network once npm's cache holds it).
 *
 * Usage: `deno task sdk:build [--out DIR]`.
 *
 * @module
 */

/** The version of the package. */
export const packageVersion = "0.1.0";
/** The compiler and the Node types it checks against, pinned. */
const buildTools = ["typescript@5.9.3", "@types/node@20.19.25"];
/** The package's entry points: subpath → module of `sdk/`. */
const entryPoints: Record<string, string> = { ".": "mod", "./testing": "testing" };

const root = new URL("../../", import.meta.url);
const pathOf = (url: URL) => decodeURIComponent(url.pathname);

/** Options of `buildNpmPackage`. */
export interface BuildOptions {
  /** Where the package goes; default `dist/npm` of the repository. Emptied first. */
  outDir?: string;
  /** Where the compiler is installed; default `dist/.tools`. */
  toolsDir?: string;
}

/**
 * Builds the package and answers its directory.
 *
 * @example
 * ```ts
 * const directory = await buildNpmPackage();
 * console.log(`npm install ${directory}`);
 * ```
 */
export async function buildNpmPackage(options: BuildOptions = {}): Promise<string> {
  const outDir = options.outDir ?? pathOf(new URL("dist/npm", root));
  const toolsDir = options.toolsDir ?? pathOf(new URL("dist/.tools", root));
  await Deno.remove(outDir, { recursive: true }).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
  await Deno.mkdir(outDir, { recursive: true });
  await installTools(toolsDir);
  await compile(toolsDir, outDir);
  await rewriteDeclarationImports(outDir);
  await Deno.writeTextFile(`${outDir}/package.json`, JSON.stringify(packageJson(), null, 2) + "\n");
  await Deno.copyFile(pathOf(new URL("sdk/npm/README.md", root)), `${outDir}/README.md`);
  return outDir;
}

/** The path of the pinned `tsc` (installed on first use). */
export async function installTools(toolsDir: string): Promise<string> {
  const tsc = `${toolsDir}/node_modules/typescript/bin/tsc`;
  const installed = await Promise.all(buildTools.map(async (spec) => {
    const at = spec.lastIndexOf("@");
    const manifest = `${toolsDir}/node_modules/${spec.slice(0, at)}/package.json`;
    const text = await Deno.readTextFile(manifest).catch(() => "{}");
    return JSON.parse(text).version === spec.slice(at + 1);
  }));
  if (installed.every(Boolean)) return tsc;
  await Deno.mkdir(toolsDir, { recursive: true });
  await run("npm", [
    "install",
    "--prefix",
    toolsDir,
    "--no-save",
    "--no-package-lock",
    "--no-audit",
    "--no-fund",
    "--prefer-offline",
    ...buildTools,
  ]);
  return tsc;
}

async function compile(toolsDir: string, outDir: string): Promise<void> {
  const sdkDir = pathOf(new URL("sdk", root));
  const config = {
    compilerOptions: {
      target: "es2022",
      module: "nodenext",
      moduleResolution: "nodenext",
      // `dom` for the Web Crypto types (CryptoKey, BufferSource) of request signing, which
      // Node 20 has as globals but @types/node 20 does not declare.
      lib: ["es2022", "dom"],
      types: ["node"],
      typeRoots: [`${toolsDir}/node_modules/@types`],
      strict: true,
      declaration: true,
      rewriteRelativeImportExtensions: true,
      isolatedModules: true,
      skipLibCheck: true,
      rootDir: sdkDir,
      outDir,
      newLine: "lf",
    },
    files: Object.values(entryPoints).map((name) => `${sdkDir}/${name}.ts`),
  };
  const configPath = `${toolsDir}/tsconfig.npm.json`;
  await Deno.writeTextFile(configPath, JSON.stringify(config, null, 2));
  await run("node", [await installTools(toolsDir), "-p", configPath]);
}

/** `from "./client.ts"` → `from "./client.js"` in every declaration file. */
async function rewriteDeclarationImports(outDir: string): Promise<void> {
  for await (const entry of Deno.readDir(outDir)) {
    if (!entry.isFile || !entry.name.endsWith(".d.ts")) continue;
    const path = `${outDir}/${entry.name}`;
    const text = await Deno.readTextFile(path);
    await Deno.writeTextFile(
      path,
      text.replaceAll(/((?:from|import)\s*\(?\s*["'])(\.{1,2}\/[^"']+)\.ts(["'])/g, "$1$2.js$3"),
    );
  }
}

function packageJson(): Record<string, unknown> {
  const exports: Record<string, unknown> = {};
  for (const [subpath, name] of Object.entries(entryPoints)) {
    exports[subpath] = { types: `./${name}.d.ts`, default: `./${name}.js` };
  }
  exports["./package.json"] = "./package.json";
  return {
    name: "@cmqd/sdk",
    version: packageVersion,
    description:
      "Client, batching Producer, Consumer and test broker for cmqd, a Raft-replicated " +
      "message queue (native v1 API).",
    type: "module",
    main: "./mod.js",
    types: "./mod.d.ts",
    exports,
    files: ["*.js", "*.d.ts", "README.md"],
    sideEffects: false,
    engines: { node: ">=20" },
    keywords: ["cmqd", "message queue", "queue", "consumer", "producer", "raft"],
  };
}

async function run(command: string, args: string[]): Promise<void> {
  const output = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" })
    .output();
  if (!output.success) {
    const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
    throw new Error(`${command} ${args.join(" ")} failed:\n${text}`);
  }
}

if (import.meta.main) {
  const at = Deno.args.indexOf("--out");
  const directory = await buildNpmPackage(at >= 0 ? { outDir: Deno.args[at + 1] } : {});
  console.log(`built @cmqd/sdk ${packageVersion} in ${directory}`);
}
