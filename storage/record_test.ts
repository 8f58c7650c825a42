import assert from "node:assert/strict";
import {
  decodeRecord,
  encodeRecord,
  inspectRecord,
  type LogEntry,
  newRecordHeader,
  payloadBytesMax,
  recordHeaderBytes,
} from "./record.ts";

const entry: LogEntry = {
  term: 2 ** 40 + 3,
  index: 2 ** 52 + 1,
  timestamp: 1_700_000_000_123.5,
  type: 200,
  payload: new TextEncoder().encode("hello, log"),
};

Deno.test("a record decodes to the entry it was encoded from", () => {
  const bytes = encodeRecord(entry);
  assert.equal(bytes.length, recordHeaderBytes + entry.payload.length);
  assert.deepEqual(decodeRecord(bytes), entry);
});

Deno.test("the record layout puts each field where record.ts documents it", () => {
  const bytes = encodeRecord({
    term: 5,
    index: 7,
    timestamp: 1.5,
    type: 9,
    payload: new Uint8Array([0xaa]),
  });
  const view = new DataView(bytes.buffer);
  assert.equal(view.getUint32(0, true), bytes.length - 4);
  assert.equal(view.getUint32(8, true), 5);
  assert.equal(view.getUint32(12, true), 0);
  assert.equal(view.getUint32(16, true), 7);
  assert.equal(view.getFloat64(24, true), 1.5);
  assert.equal(bytes[32], 9);
  assert.equal(bytes[33], 0xaa);
});

Deno.test("the decoded payload is a copy, not a view of the record", () => {
  const bytes = encodeRecord(entry);
  const decoded = decodeRecord(bytes);
  bytes.fill(0);
  assert.deepEqual(decoded.payload, entry.payload);
});

Deno.test("every single flipped bit of a record is detected", () => {
  const bytes = encodeRecord(entry);
  for (let bit = 0; bit < bytes.length * 8; bit++) {
    const damaged = bytes.slice();
    damaged[bit >> 3] ^= 1 << (bit & 7);
    const status = inspectRecord(damaged, 0, { header: newRecordHeader(), verify: true });
    assert.notEqual(status, "ok", `bit ${bit} went unnoticed`);
    assert.throws(() => decodeRecord(damaged), { name: "CorruptLogError" });
  }
});

Deno.test("a cut-short record is incomplete, an absurd length is bad", () => {
  const bytes = encodeRecord(entry);
  const header = newRecordHeader();
  for (let length = 0; length < bytes.length; length++) {
    assert.equal(
      inspectRecord(bytes.subarray(0, length), 0, { header, verify: true }),
      "incomplete",
    );
  }
  const absurd = bytes.slice();
  absurd[3] = 0xff;
  assert.equal(inspectRecord(absurd, 0, { header, verify: true }), "bad length");
  const tiny = bytes.slice();
  tiny.set([1, 0, 0, 0]);
  assert.equal(inspectRecord(tiny, 0, { header, verify: true }), "bad length");
});

Deno.test("records too big or with impossible fields are refused at encoding", () => {
  const big = { ...entry, payload: new Uint8Array(payloadBytesMax + 1) };
  assert.throws(() => encodeRecord(big), /payloadBytesMax/);
  assert.throws(() => encodeRecord({ ...entry, index: 0 }), /index/);
  assert.throws(() => encodeRecord({ ...entry, term: 1.5 }), /term/);
  assert.throws(() => encodeRecord({ ...entry, type: 256 }), /u8/);
  assert.throws(() => encodeRecord({ ...entry, timestamp: NaN }), /finite/);
});
