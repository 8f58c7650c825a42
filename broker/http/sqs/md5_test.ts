/**
 * The digests of `md5.ts` against SQS's published values, and the attribute encoding's round
 * trip through cmqd's string pairs.
 */
import assert from "node:assert/strict";
import { md5Hex, md5OfBody, md5OfMessageAttributes, type SqsAttributeValue } from "./md5.ts";
import { decodeMessageAttributes, encodeMessageAttributes } from "./message_attributes.ts";

const binary = btoa("Hello binary world!");
const published: [Record<string, SqsAttributeValue>, string][] = [
  [
    { attribName1: { DataType: "String", StringValue: "attribValue 1" } },
    "19e27d4e946b072f3f58da80d94fd778",
  ],
  [
    {
      customNumberTypeAttrib: {
        DataType: "Number.float",
        StringValue: "4563442423554324324264524243.32543234",
      },
    },
    "9fe1b90bbd9965bdf77bac517c7d2495",
  ],
  [
    { binaryAttribute: { DataType: "Binary", BinaryValue: binary } },
    "31a92b15d92f8db860eda32aceb656c3",
  ],
];

Deno.test("MD5OfMessageAttributes matches SQS's published digests, alone and together", () => {
  for (const [attributes, digest] of published) {
    assert.equal(md5OfMessageAttributes(attributes), digest);
  }
  const together = Object.assign({}, ...published.map(([attributes]) => attributes));
  assert.equal(md5OfMessageAttributes(together), "c932db14a896c663f83c260297d594ff");
  assert.equal(md5OfMessageAttributes({}), undefined);
});

Deno.test("MD5OfMessageBody is the MD5 of the body's UTF-8 bytes", () => {
  assert.equal(md5OfBody(""), "d41d8cd98f00b204e9800998ecf8427e");
  assert.equal(
    md5OfBody("The quick brown fox jumps over the lazy dog"),
    "9e107d9d372bb6826bd81d3542a419d6",
  );
  assert.equal(md5OfBody("\u00e9"), md5Hex(Uint8Array.of(0xc3, 0xa9)));
});

Deno.test("typed attributes are stored as name:DataType pairs and read back", () => {
  const encoded = encodeMessageAttributes({
    kind: { DataType: "String", StringValue: "photo" },
    size: { DataType: "Number", StringValue: "42" },
    thumb: { DataType: "Binary", BinaryValue: binary },
  })!;
  assert.deepEqual(encoded.stored, { kind: "photo", "size:Number": "42", "thumb:Binary": binary });
  const decoded = decodeMessageAttributes(encoded.stored, ["All"]);
  assert.deepEqual(decoded, encoded.attributes);
  assert.deepEqual(Object.keys(decodeMessageAttributes(encoded.stored, ["size"])), ["size"]);
  assert.deepEqual(decodeMessageAttributes(encoded.stored, []), {});
});

Deno.test("attributes written by other doors read as String attributes", () => {
  const decoded = decodeMessageAttributes(
    { "trace:id": "abc", "a:Binary": "not base64!", plain: "v" },
    [".*"],
  );
  assert.deepEqual(decoded, {
    "trace:id": { DataType: "String", StringValue: "abc" },
    "a:Binary": { DataType: "String", StringValue: "not base64!" },
    plain: { DataType: "String", StringValue: "v" },
  });
});
