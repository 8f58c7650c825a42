import assert from "node:assert/strict";
import { ByteReader, ByteWriter, DecodeError } from "./binary.ts";

Deno.test("string16 writes what TextEncoder writes and reads it back, short ASCII or not", () => {
  const encoder = new TextEncoder();
  const texts = [
    "",
    "orders",
    "a".repeat(64),
    "a".repeat(65),
    "héllo",
    "订单-7",
    "a\ud800b", // a lone surrogate is written as U+FFFD, like TextEncoder does
    "x".repeat(63) + "é",
    "HTTP 500: \u007f",
  ];
  for (const text of texts) {
    const writer = new ByteWriter(4);
    writer.string16(text);
    const bytes = writer.finish();
    const expected = encoder.encode(text);
    assert.equal(new DataView(bytes.buffer).getUint16(0, true), expected.length, text);
    assert.deepEqual(bytes.subarray(2), expected, text);
    const reader = new ByteReader(bytes);
    assert.equal(reader.string16(), new TextDecoder().decode(expected), text);
    reader.end();
  }
});

Deno.test("string16 reads short ASCII texts right when they share a cache slot or come back", () => {
  // 3,000 texts over 256 slots: every slot is shared, and a text read again after others took
  // its slot is made anew. Texts that differ in one character, in length only, or not at all.
  const texts: string[] = ["", "q", "queue-1", "queue-2", "queue-10", "queue-1 ", "Queue-1"];
  for (let index = 0; index < 3_000; index++) texts.push(`name-${index}`.padEnd(index % 64, "."));
  const writer = new ByteWriter();
  for (let round = 0; round < 3; round++) for (const text of texts) writer.string16(text);
  const reader = new ByteReader(writer.finish());
  for (let round = 0; round < 3; round++) {
    for (const text of texts) assert.equal(reader.string16(), text);
  }
  reader.end();
});

Deno.test("string16 rejects invalid UTF-8, short or long", () => {
  for (const length of [3, 100]) {
    const bytes = new Uint8Array(2 + length).fill(0x61);
    new DataView(bytes.buffer).setUint16(0, length, true);
    bytes[2 + length - 1] = 0xff;
    assert.throws(() => new ByteReader(bytes).string16(), DecodeError);
  }
});

Deno.test("integers and floats read back at their edges, from a view that starts inside its buffer", () => {
  const writer = new ByteWriter(8);
  const u8s = [0, 1, 0x7f, 0x80, 0xff];
  const u16s = [0, 1, 0x7fff, 0x8000, 0xffff];
  const u32s = [0, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_fffe, 0xffff_ffff, 0x0102_0304];
  const f64s = [0, -0, 1.5, 2 ** 53 - 1, -1e300, Number.MIN_VALUE];
  writer.u8(0xaa); // a byte before the view
  for (let index = 0; index < 7; index++) {
    writer.u8(u8s[index % u8s.length]);
    writer.u16(u16s[index % u16s.length]);
    writer.u32(u32s[index]);
    writer.f64(f64s[index % f64s.length]);
  }
  const bytes = writer.finish();
  const reader = new ByteReader(bytes.subarray(1));
  for (let index = 0; index < 7; index++) {
    assert.equal(reader.u8(), u8s[index % u8s.length]);
    assert.equal(reader.u16(), u16s[index % u16s.length]);
    assert.equal(reader.u32(), u32s[index]);
    assert.ok(Object.is(reader.f64(), f64s[index % f64s.length]));
  }
  reader.end();
  assert.throws(() => new ByteReader(bytes, 0, 3).u32(), DecodeError);
});

/** What `write` makes in a writer of its own, read out of a fresh writer for comparison. */
function written(write: (writer: ByteWriter) => void, capacity = 256): Uint8Array {
  const writer = new ByteWriter(capacity);
  write(writer);
  return writer.finish();
}

Deno.test("writers that reuse a finished writer's buffer write exactly their own bytes", () => {
  const long = (writer: ByteWriter) => {
    for (let index = 0; index < 300; index++) writer.u32(0xdead_beef);
    writer.string32("é".repeat(500));
  };
  const short = (writer: ByteWriter) => {
    writer.u16(7);
    writer.string16("orders");
  };
  const first = written(long, 64);
  const firstCopy = first.slice();
  // The next writer gets the buffer `first` was copied out of: no byte of it shows, and
  // `first` does not change under it.
  const second = written(short, 64);
  assert.deepEqual(second, Uint8Array.of(7, 0, 6, 0, ...new TextEncoder().encode("orders")));
  assert.deepEqual(first, firstCopy);
  assert.notEqual(first.buffer, second.buffer);
  // Two writers open at once (one started while the other writes) never share a buffer. The
  // smallest capacity: whatever buffer is spare now is big enough for either to take it.
  const outer = new ByteWriter(1);
  outer.u32(1);
  const inner = new ByteWriter(1);
  inner.u32(2);
  outer.u32(3);
  inner.u32(4);
  assert.deepEqual(inner.finish(), Uint8Array.of(2, 0, 0, 0, 4, 0, 0, 0));
  assert.deepEqual(outer.finish(), Uint8Array.of(1, 0, 0, 0, 3, 0, 0, 0));
});

Deno.test("a finished writer refuses to write into the buffer it gave up", () => {
  const writer = new ByteWriter(64);
  writer.u32(5);
  writer.finish();
  const next = new ByteWriter(64); // holds the buffer `writer` gave up
  next.u32(6);
  assert.throws(() => writer.u32(9), /after finish/);
  assert.throws(() => writer.string32("x"), /after finish/);
  assert.throws(() => writer.patchU32(0, 9), RangeError);
  assert.deepEqual(next.finish(), Uint8Array.of(6, 0, 0, 0));
});
