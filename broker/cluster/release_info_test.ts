import assert from "node:assert/strict";
import { versionText } from "./release_info.ts";
import {
  encodeDeleteBatch,
  encodePushResults,
  encodeReceiveBatch,
  encodeSendBatch,
  encodeSendReceive,
} from "../engine/mod.ts";

Deno.test("--version's range of command layouts ends at the newest layout this release writes", () => {
  // A binary command's first byte is its layout version. The range was a hand-kept "1-4" while
  // receives were written in SendReceive layout 5: an operator comparing releases was misled.
  const message = { body: "b", delaySeconds: 0 };
  const written = [
    encodeSendBatch({ queue: "q", messages: [message] }),
    encodeSendReceive({
      queue: "q",
      messages: [message],
      receives: [{ maxMessages: 1, visibilityTimeoutSeconds: 0 }],
    }),
    encodeReceiveBatch({
      queue: "q",
      maxMessages: 1,
      visibilityTimeoutSeconds: 0,
      deleteHandles: [],
    }),
    encodeDeleteBatch({ queue: "q", handles: [] }),
    encodePushResults([]),
  ];
  const newest = Math.max(...written.map((bytes) => bytes[0]));
  const range = /log entry commands 1-(\d+),/.exec(versionText());
  assert.ok(range !== null, versionText());
  assert.equal(Number(range[1]), newest);
});
