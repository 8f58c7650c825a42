/**
 * The README's "Upgrading" section lists what this release writes and an earlier one refuses: an
 * operator reads it to decide the order of a rolling upgrade. Every later form the code writes —
 * each command type past the first release's set, and each binary command's newest layout — must be
 * named there, so a new form can't ship without its line.
 */
import assert from "node:assert/strict";
import { sendReceiveVersion } from "./commands.ts";
import { receiveVersion } from "./handle_commands.ts";
import { pushResultsVersion } from "./topic_commands.ts";
import { CommandType } from "./types.ts";

async function upgradingSection(): Promise<string> {
  const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
  const start = readme.indexOf("\n## Upgrading\n");
  assert.ok(start >= 0, "the README's Upgrading section");
  const end = readme.indexOf("\n## ", start + 1);
  return readme.slice(start, end < 0 ? undefined : end).replace(/\s+/g, " ");
}

Deno.test("README Upgrading: names the newest layout of every binary command written in a later one", async () => {
  const text = await upgradingSection();
  for (
    const [name, version] of [
      ["ReceiveBatch", receiveVersion],
      ["SendReceive", sendReceiveVersion],
      ["PushResults", pushResultsVersion],
    ] as const
  ) {
    assert.ok(
      text.includes(`${name} layout ${version}`),
      `the Upgrading section does not name ${name} layout ${version}, which this release writes`,
    );
  }
});

Deno.test("README Upgrading: names every command type added after the first forms, with its number", async () => {
  const text = await upgradingSection();
  for (const [name, type] of Object.entries(CommandType)) {
    if (type <= CommandType.RedriveOfCreated || name === "SendReceive") continue;
    assert.match(
      text,
      new RegExp(`\`${name}\`[ ,(]*${type}\\b`),
      `the Upgrading section does not name ${name} (${type})`,
    );
  }
});
