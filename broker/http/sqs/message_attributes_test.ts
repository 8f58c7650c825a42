import assert from "node:assert/strict";
import { decodeMessageAttributes, withinSqsNumberRange } from "./message_attributes.ts";

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
