/**
 * No tracked text file holds a merge's conflict markers. `deno fmt` reflows a Markdown conflict
 * into paragraphs and quotes, so a resolved-looking README could still carry both sides of one
 * (it happened once): this looks for the markers wherever a line holds them.
 */
import assert from "node:assert/strict";

const root = new URL("../../", import.meta.url);

/** The markers `git merge` writes, as they survive a Markdown formatter too. */
export function conflictLines(text: string): number[] {
  const found: number[] = [];
  text.split("\n").forEach((line, at) => {
    if (/^\s*(<{7}|>{7}) ?/.test(line) || /\s<{7} [A-Za-z0-9_/.-]+/.test(line)) found.push(at + 1);
  });
  return found;
}

Deno.test("conflictLines finds markers as git writes them and as a formatter leaves them", () => {
  assert.deepEqual(conflictLines("a\n<<<<<<< HEAD\nb\n=======\nc\n>>>>>>> 55c4624 (x)\n"), [2, 6]);
  assert.deepEqual(conflictLines("  text <<<<<<< HEAD instead.\n>>>>>>> proxy too)"), [1, 2]);
  assert.deepEqual(conflictLines("a heading\n=======\n> a quote\n"), []);
});

Deno.test("no tracked file holds conflict markers", async () => {
  const listed = new Deno.Command("git", {
    args: ["ls-files", "-z", "--", "*.ts", "*.md", "*.json", "*.yml", ".ci/*"],
    cwd: root,
    stdout: "piped",
    stderr: "null",
  });
  const { success, stdout } = await listed.output();
  if (!success) return; // not a git checkout (an unpacked archive): nothing to compare against
  const paths = new TextDecoder().decode(stdout).split("\0").filter((path) => path !== "");
  assert.ok(paths.length > 100, "git lists the tracked files");
  const marked: string[] = [];
  for (const path of paths) {
    if (path === "tests/architecture/merge_markers_test.ts") continue;
    let text: string;
    try {
      text = await Deno.readTextFile(new URL(path, root));
    } catch {
      continue; // deleted in the working tree
    }
    const lines = conflictLines(text);
    if (lines.length > 0) marked.push(`${path}:${lines.join(",")}`);
  }
  assert.deepEqual(marked, []);
});
