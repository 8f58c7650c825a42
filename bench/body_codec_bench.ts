/**
 * `deno bench` of what happens to 16 message bodies of 1 KB on their way through the broker:
 * encoded into a SendBatch command at send, read back out of the log entry and serialized into a
 * receive's JSON answer.
 *
 * @module
 */
import { encodeSendBatch, fromStoredUtf8, SentMessageReader } from "../broker/testing.ts";

const body = "1700000000000.123|" + "x".repeat(1024 - 18);
const messages = Array.from({ length: 16 }, () => ({ body, delaySeconds: 0 }));
const payload = encodeSendBatch({ queue: "bench", messages });

function receivedMessages() {
  const reader = new SentMessageReader(payload);
  return Array.from({ length: 16 }, (_, slot) => ({
    id: "00000001000000010000000000000001",
    sequence: slot + 1,
    body: fromStoredUtf8(reader.message(slot).bodyBytes),
    receiptHandle: "AAAAAQAAAAAAAAABAAAAAAAAAAEAAAAB",
    enqueuedAt: 1_700_000_000_000,
    firstReceivedAt: 1_700_000_000_000,
    receiveCount: 1,
    visibleAt: 1_700_000_060_000,
  }));
}

Deno.bench("encode a SendBatch of 16 x 1 KB", { group: "bodies" }, () => {
  encodeSendBatch({ queue: "bench", messages });
});
Deno.bench("read 16 bodies of an entry", { group: "bodies", baseline: true }, () => {
  receivedMessages();
});
Deno.bench("read 16 bodies and JSON.stringify the answer", { group: "bodies" }, () => {
  JSON.stringify({ messages: receivedMessages() });
});
