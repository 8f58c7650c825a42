import assert from "node:assert/strict";
import { badEntryIndex } from "./bad_entry.ts";
import { CmqdError } from "./errors.ts";

const refusal = (field: string | undefined, status = 400) =>
  new CmqdError("InvalidParameter", "bad", { status, ...(field === undefined ? {} : { field }) });

Deno.test("badEntryIndex reads the entry of its own list that a 400 or 413 names, below the batch's length", () => {
  assert.equal(badEntryIndex(refusal("messages.3.body"), 4, "messages"), 3);
  assert.equal(badEntryIndex(refusal("messages.1.body", 413), 4, "messages"), 1);
  assert.equal(badEntryIndex(refusal("entries.0.receiptHandle"), 2, "entries"), 0);
  assert.equal(badEntryIndex(refusal("receiptHandles.2"), 3, "receiptHandles"), 2);
  assert.equal(badEntryIndex(refusal("deleteReceiptHandles.1"), 2, "deleteReceiptHandles"), 1);
  // Another list's entry, the list itself, a name that only starts alike: none of this batch's.
  assert.equal(badEntryIndex(refusal("deleteReceiptHandles.1"), 2, "receiptHandles"), undefined);
  assert.equal(badEntryIndex(refusal("receiptHandles.1"), 2, "deleteReceiptHandles"), undefined);
  assert.equal(badEntryIndex(refusal("receiptHandles"), 2, "receiptHandles"), undefined);
  assert.equal(badEntryIndex(refusal("entries.1x"), 2, "entries"), undefined);
  // Past the batch's length, another status, no field, not the broker's error.
  assert.equal(badEntryIndex(refusal("receiptHandles.2"), 2, "receiptHandles"), undefined);
  assert.equal(badEntryIndex(refusal("receiptHandles.0", 500), 2, "receiptHandles"), undefined);
  assert.equal(badEntryIndex(refusal(undefined), 2, "receiptHandles"), undefined);
  assert.equal(badEntryIndex(new Error("receiptHandles.0"), 2, "receiptHandles"), undefined);
});
