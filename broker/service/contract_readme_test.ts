/**
 * The README's "The API contract" table of attribute ranges and defaults is the code's: every row
 * is written here from the limits the validation of every door reads (`engine/limits.ts`), so a
 * limit changed in one place and not the other fails. The tests of each door check that the
 * limits are enforced (`broker/http/v1/bad_input_test.ts` tries each min-1 and max+1).
 */
import assert from "node:assert/strict";
import {
  deadLetterLimits,
  listLimits,
  messageLimits,
  namePattern,
  queueLimits,
  type Range,
  tagLimits,
} from "./mod.ts";

/** The table's rows, by their first cell: [range, default]. */
async function readmeTable(): Promise<Map<string, [string, string]>> {
  const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
  const start = readme.indexOf("\n## The API contract\n");
  const end = readme.indexOf("\n## ", start + 1);
  assert.ok(start >= 0 && end > start, "the README has a section 'The API contract'");
  const rows = new Map<string, [string, string]>();
  for (const line of readme.slice(start, end).split("\n")) {
    if (!line.startsWith("| ") || line.startsWith("| --") || line.startsWith("| attribute ")) {
      continue;
    }
    const [name, range, fallback] = line.split("|").slice(1, 4).map((cell) => cell.trim());
    rows.set(name, [range, fallback]);
  }
  return rows;
}

const mib = 1024 * 1024;
const span = (range: { min: number; max: number }) => `${range.min}–${range.max}`;
const withDefault = (range: Range): [string, string] => [span(range), String(range.default)];

function expectedRows(): Map<string, [string, string]> {
  return new Map<string, [string, string]>([
    ["`visibilityTimeoutSeconds`", withDefault(queueLimits.visibilityTimeoutSeconds)],
    ["`pollingWaitSeconds`", withDefault(queueLimits.pollingWaitSeconds)],
    ["`maxMessageBytes`", withDefault(queueLimits.maxMessageBytes)],
    ["`retentionSeconds`", withDefault(queueLimits.retentionSeconds)],
    [
      "`rewindSeconds`",
      [
        `${queueLimits.rewindSeconds.min}–retentionSeconds`,
        String(queueLimits.rewindSeconds.default),
      ],
    ],
    ["`maxBacklog`", withDefault(queueLimits.maxBacklog)],
    ["`delaySeconds` (per message)", withDefault(messageLimits.delaySeconds)],
    [
      "batch size (send, receive, delete, visibility)",
      [
        `1–${messageLimits.batchEntriesMax}, ≤ ${
          messageLimits.requestBytesMax / mib
        } MiB per request`,
        "",
      ],
    ],
    ["`deadLetter.maxReceiveCount`", [span(deadLetterLimits.maxReceiveCount), ""]],
    ["`deadLetter.maxTimeToLiveSeconds`", [span(deadLetterLimits.maxTimeToLiveSeconds), ""]],
    ["`fifo`", ["boolean, immutable", "false"]],
    ["dedup window", [`${messageLimits.dedupWindowMs / 1000} s`, ""]],
    [
      "message `attributes`",
      [
        `≤ ${messageLimits.attributesMax} string pairs, keys 1–${messageLimits.attributeKeyCharsMax}, ` +
        `values 0–${messageLimits.attributeValueCharsMax} chars`,
        "",
      ],
    ],
    [
      "`groupId`, `dedupId` (per message)",
      [`1–${Math.max(messageLimits.groupIdCharsMax, messageLimits.dedupIdCharsMax)} chars`, ""],
    ],
    ["list `limit` (queues, topics, a topic's subscriptions)", withDefault(listLimits.limit)],
    [
      "`tags` (widened: CMQ has no tags)",
      [
        `≤ ${tagLimits.tagsMax}; key 1–${tagLimits.keyCharsMax}, value 0–${tagLimits.valueCharsMax} chars`,
        "none",
      ],
    ],
  ]);
}

Deno.test("the README's table of attribute ranges and defaults is the one the code enforces", async () => {
  assert.equal(messageLimits.groupIdCharsMax, messageLimits.dedupIdCharsMax);
  assert.deepEqual(await readmeTable(), expectedRows());
});

Deno.test("the README's receive cut is the code's: 64 MiB / maxMessageBytes, 256 up to 256 KiB, 64 at 1 MiB", async () => {
  const rows = await readmeTable();
  const note = (await Deno.readTextFile(new URL("../../README.md", import.meta.url)))
    .split("\n").find((line) => line.startsWith("| batch size"));
  assert.ok(rows.has("batch size (send, receive, delete, visibility)") && note !== undefined);
  const cut = messageLimits.receiveBodyBytesMax;
  assert.ok(
    note.includes(`a receive takes at most ${cut / mib} MiB / the queue's \`maxMessageBytes\``),
  );
  assert.equal(cut / (256 * 1024), messageLimits.batchEntriesMax);
  assert.equal(cut / queueLimits.maxMessageBytes.max, 64);
});

Deno.test("the README's queue names are the code's: 1–64 characters, a letter first, then letters, digits, - and _", () => {
  for (const name of ["a", "A", "a".repeat(64), "a-_9Z"]) assert.ok(namePattern.test(name), name);
  for (const name of ["", "a".repeat(65), "9a", "-a", "_a", "a.b", "a b", "é"]) {
    assert.ok(!namePattern.test(name), name);
  }
});
