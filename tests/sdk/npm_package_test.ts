/**
 * The npm package under Node: `buildNpmPackage` (what `deno task sdk:build` runs) writes it to
 * a temporary directory, `npm pack` + `npm install` put it in a fresh project (offline: the
 * package has no dependencies), and then, in that project:
 * - a Node program (`npm_consumer/app.mjs`) produces and consumes through the helpers against a
 *   real broker this test started; another (`signed.mjs`) signs its requests;
 * - `tsc --noEmit` (the pinned TypeScript of the build) compiles a typed consumer of both entry
 *   points, whose expected type errors must be errors;
 * - `node --test` runs the `node:test` example of the README (`sdk/examples/`), which starts
 *   its own broker through `@cmqd/sdk/testing`, finding `deno` on PATH and `main.ts` by
 *   `CMQD_MAIN`.
 * Skipped where no `node` is installed.
 */
import assert from "node:assert/strict";
import { dirname } from "node:path";
import { buildNpmPackage, installTools, packageVersion } from "../../sdk/npm/build.ts";
import { startTestBroker } from "../../sdk/testing.ts";

const nodeAvailable = await new Deno.Command("node", { args: ["--version"], stdout: "null" })
  .output().then((output) => output.success, () => false);

const root = decodeURIComponent(new URL("../../", import.meta.url).pathname);
const toolsDir = `${root}dist/.tools`;

Deno.test({
  name: "@cmqd/sdk installs into a Node project, runs against a real broker and type-checks",
  ignore: !nodeAvailable,
  async fn(t) {
    const work = await Deno.makeTempDir({ prefix: "cmqd-npm-" });
    try {
      const project = await installedProject(work);
      await t.step("a Node program produces and consumes with the helpers", async () => {
        const broker = await startTestBroker();
        try {
          const output = await run("node", ["app.mjs", broker.url], { cwd: project });
          assert.deepEqual(JSON.parse(output), {
            handled: 200,
            retried: 40,
            left: 0,
            missing: "QueueNotFound",
          });
        } finally {
          await broker.stop();
        }
      });
      await t.step("requests are signed under Node (Web Crypto) and accepted", async () => {
        const credentials = { secretId: "AKIDnode", secretKey: "node-secret-0123456789" };
        const broker = await startTestBroker({ credentials });
        try {
          const output = await run("node", [
            "signed.mjs",
            broker.url,
            credentials.secretId,
            credentials.secretKey,
          ], { cwd: project });
          assert.deepEqual(JSON.parse(output), { created: true, refused: "Unauthenticated" });
        } finally {
          await broker.stop();
        }
      });
      await t.step("tsc --noEmit compiles a typed consumer of . and ./testing", async () => {
        await Deno.writeTextFile(`${project}/tsconfig.json`, JSON.stringify(typedConfig()));
        await run("node", [await installTools(toolsDir), "-p", "tsconfig.json"], { cwd: project });
      });
      await t.step("node --test runs the node:test example with its own broker", async () => {
        const output = await run("node", ["--test", "node_test_with_broker.mjs"], {
          cwd: project,
          env: {
            CMQD_MAIN: `${root}main.ts`,
            PATH: `${dirname(Deno.execPath())}:${Deno.env.get("PATH") ?? ""}`,
          },
        });
        assert.match(output, /# pass 1/);
        assert.match(output, /# fail 0/);
      });
    } finally {
      await Deno.remove(work, { recursive: true });
    }
  },
});

/** Builds, packs and installs the package into `work/project`; answers the project's path. */
async function installedProject(work: string): Promise<string> {
  const packageDir = await buildNpmPackage({ outDir: `${work}/package`, toolsDir });
  const manifest = JSON.parse(await Deno.readTextFile(`${packageDir}/package.json`));
  assert.equal(manifest.dependencies, undefined);
  assert.deepEqual(Object.keys(manifest.exports), [".", "./testing", "./package.json"]);
  await run("npm", ["pack", packageDir, "--pack-destination", work], { cwd: work });
  const project = `${work}/project`;
  await Deno.mkdir(project);
  await Deno.writeTextFile(
    `${project}/package.json`,
    JSON.stringify({ name: "consumer", private: true, type: "module" }),
  );
  await run("npm", [
    "install",
    "--offline",
    "--no-audit",
    "--no-fund",
    `${work}/cmqd-sdk-${packageVersion}.tgz`,
  ], { cwd: project });
  for (const file of ["app.mjs", "signed.mjs", "typed.ts"]) {
    await Deno.copyFile(`${root}tests/sdk/npm_consumer/${file}`, `${project}/${file}`);
  }
  await Deno.copyFile(
    `${root}sdk/examples/node_test_with_broker.mjs`,
    `${project}/node_test_with_broker.mjs`,
  );
  return project;
}

function typedConfig(): Record<string, unknown> {
  return {
    compilerOptions: {
      target: "es2022",
      module: "nodenext",
      moduleResolution: "nodenext",
      lib: ["es2022"],
      types: ["node"],
      typeRoots: [`${toolsDir}/node_modules/@types`],
      strict: true,
      noEmit: true,
      // The build already checked the package; this checks what a user's code sees of it.
      skipLibCheck: true,
    },
    files: ["typed.ts"],
  };
}

async function run(
  command: string,
  args: string[],
  options: { cwd: string; env?: Record<string, string> },
): Promise<string> {
  const output = await new Deno.Command(command, {
    args,
    cwd: options.cwd,
    env: { NO_COLOR: "1", ...options.env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  const stderr = new TextDecoder().decode(output.stderr);
  assert.ok(output.success, `${command} ${args.join(" ")} failed:\n${stdout}\n${stderr}`);
  return stdout;
}
