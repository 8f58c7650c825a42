import assert from "node:assert/strict";
import {
  decodeMessageAttributes,
  encodeMessageAttributes,
  numberPattern,
  withinSqsNumberRange,
} from "./message_attributes.ts";
import { SqsError } from "./errors.ts";

Deno.test("Number attributes: SQS's 38 significant digits between 10^-128 and 10^126", () => {
  const cases: [string, boolean][] = [
    ["0", true],
    ["-0.000", true],
    ["0e99999", true],
    ["42", true],
    [".5", true],
    ["5.", true],
    ["1e126", true],
    ["9.99e126", true],
    ["1" + "0".repeat(126), true],
    ["1e127", false],
    ["10e126", false],
    ["1" + "0".repeat(127), false],
    ["1e-128", true],
    ["0.1e-127", true],
    ["0.01e-127", false],
    ["1e-129", false],
    ["1e99999", false],
    ["1e-99999999999999999999999", false],
    ["1".repeat(38), true],
    ["-0." + "1".repeat(38), true],
    ["1".repeat(39), false],
  ];
  for (const [value, expected] of cases) {
    assert.equal(withinSqsNumberRange(value), expected, value.slice(0, 40));
  }
});

Deno.test("a stored key that would decode to the name __proto__ is read back whole, as a String", () => {
  // A native producer may send `__proto__:Number` (an ordinary key); SQS clients never get the
  // reserved name, and the attribute is not lost either.
  const stored = { "__proto__:Number": "5", "size:Number": "7" };
  const decoded = decodeMessageAttributes(stored, ["All"]);
  assert.deepEqual(Object.keys(decoded).sort(), ["__proto__:Number", "size"]);
  assert.deepEqual(decoded["__proto__:Number"], { DataType: "String", StringValue: "5" });
  assert.equal(Object.hasOwn(decoded, "__proto__"), false);
  assert.equal(Object.getPrototypeOf(decoded), Object.prototype);
});

Deno.test("a value over 1024 characters is refused for its length before any pattern reads it", () => {
  // The number pattern took time quadratic in the value's length to refuse digits ending in a
  // letter: a 4 MiB SendMessage held the event loop for hours. Refused for the length first,
  // the value is never matched, whatever its type.
  const long = "1".repeat(2000) + "x";
  for (const [dataType, member] of [["Number", "StringValue"], ["Binary", "BinaryValue"]]) {
    assert.throws(
      () => encodeMessageAttributes({ n: { DataType: dataType, [member]: long } }),
      (error: unknown) =>
        error instanceof SqsError &&
        error.message.endsWith(
          "cmqd keeps values of at most 1024 characters (binary values count as base64).",
        ),
      dataType,
    );
  }
});

/** The number pattern before it was rewritten to match without backtracking; same language. */
const ambiguousNumberPattern = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

Deno.test("the number pattern takes exactly the strings the ambiguous pattern took", () => {
  const alphabet = "019.+-eEx ";
  let seed = 7;
  const random = (below: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % below;
  };
  const samples = ["", ".", "+", "1", "1.", ".1", "1.5", "1e5", "1.e5", ".e5", "1e", "+.5E-3"];
  for (let count = 0; count < 20_000; count++) {
    let text = "";
    for (let length = random(9); length > 0; length--) text += alphabet[random(alphabet.length)];
    samples.push(text);
  }
  for (const text of samples) {
    assert.equal(numberPattern.test(text), ambiguousNumberPattern.test(text), JSON.stringify(text));
  }
});
