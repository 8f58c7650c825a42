/**
 * The README's table of tasks ("The two commands") and `deno.json`'s tasks are the same set, so a
 * task a user can run is listed with what it does, and no row names a task that is gone.
 */
import assert from "node:assert/strict";

const root = new URL("../../", import.meta.url);

async function readmeTasks(): Promise<string[]> {
  const readme = await Deno.readTextFile(new URL("README.md", root));
  const start = readme.indexOf("| task ");
  assert.ok(start >= 0, "the README's table of tasks");
  const names: string[] = [];
  for (const line of readme.slice(start).split("\n").slice(2)) {
    if (!line.startsWith("|")) break;
    const cell = line.split("|")[1];
    names.push(...[...cell.matchAll(/`([^`]+)`/g)].map((match) => match[1]));
  }
  return names.sort();
}

Deno.test("every deno.json task has its row in the README's table of tasks, and every row a task", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
  assert.deepEqual(await readmeTasks(), Object.keys(config.tasks).sort());
});
