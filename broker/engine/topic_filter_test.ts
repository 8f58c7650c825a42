import assert from "node:assert/strict";
import {
  splitKeyWords,
  utf8ByteLength,
  validateBindingKeys,
  validateFilterTags,
  validateMessageTags,
  validateRoutingKey,
} from "./topic_filter.ts";

/** One row of a validation table: the input and the exact answer (null = accepted). */
type Row<Input> = [input: Input, expected: string | null];

function checkTable<Input>(validate: (input: Input) => string | null, rows: Row<Input>[]): void {
  for (const [input, expected] of rows) {
    assert.equal(validate(input), expected, `input ${JSON.stringify(input)}`);
  }
}

const sixteen = "abcdefghijklmnop";

Deno.test("message tags: at most 5, each 1–16 characters counted in code points", () => {
  checkTable(validateMessageTags, [
    [[], null],
    [["apple"], null],
    [["a", "b", "c", "d", "e"], null],
    [[sixteen], null],
    [["苹果苹果苹果苹果苹果苹果苹果苹果"], null],
    [["😀".repeat(16)], null],
    [["apple", "apple"], null],
    [["a", "b", "c", "d", "e", "f"], "tags: at most 5 per message, got 6"],
    [[sixteen + "q"], "tags[0]: at most 16 characters, got 17"],
    [["ok", "😀".repeat(17)], "tags[1]: at most 16 characters, got 17"],
    [["ok", ""], "tags[1]: must not be empty"],
    [["a\nb"], "tags[0]: must not contain control characters"],
    [["a\u007fb"], "tags[0]: must not contain control characters"],
    [["a\ud800"], "tags[0]: must be well-formed Unicode (lone surrogate)"],
  ]);
});

Deno.test("filter tags: the same rules as message tags, counted per subscription", () => {
  checkTable(validateFilterTags, [
    [[], null],
    [["apple", "imac"], null],
    [["a", "b", "c", "d", "e", "f"], "filterTags: at most 5 per subscription, got 6"],
    [["x", "y", ""], "filterTags[2]: must not be empty"],
    [[sixteen + sixteen], "filterTags[0]: at most 16 characters, got 32"],
    [["\udc00x"], "filterTags[0]: must be well-formed Unicode (lone surrogate)"],
  ]);
});

Deno.test("binding keys: at most 5, each ≤ 64 bytes and ≤ 16 non-empty words", () => {
  const sixtyFourBytes = "a".repeat(64);
  const sixteenWords = Array(16).fill("w").join(".");
  checkTable(validateBindingKeys, [
    [[], null],
    [["#"], null],
    [["*"], null],
    [["#.#"], null],
    [["*.*"], null],
    [["a.#", "#.a", "a.#.b", "a.*.b", "orders.eu.created"], null],
    [[sixtyFourBytes], null],
    [[sixteenWords], null],
    [["a.#", "a.#"], null],
    [["订单.*"], null],
    [["a", "b", "c", "d", "e", "f"], "bindingKeys: at most 5 per subscription, got 6"],
    [[""], 'bindingKeys[0]: must not be empty (use "#" to match every routing key)'],
    [["ok", sixtyFourBytes + "b"], "bindingKeys[1]: at most 64 bytes (UTF-8), got 65"],
    [["é".repeat(33)], "bindingKeys[0]: at most 64 bytes (UTF-8), got 66"],
    [[sixteenWords + ".w"], "bindingKeys[0]: at most 16 dot-separated words, got 17"],
    [["a..b"], "bindingKeys[0]: word 2 is empty; words between dots must not be empty"],
    [[".a"], "bindingKeys[0]: word 1 is empty; words between dots must not be empty"],
    [["a."], "bindingKeys[0]: word 2 is empty; words between dots must not be empty"],
    [["."], "bindingKeys[0]: word 1 is empty; words between dots must not be empty"],
    [
      ["orders.created*"],
      'bindingKeys[0]: word 2 "created*" mixes a wildcard with other characters; ' +
      '"*" and "#" must stand alone as a word',
    ],
    [
      ["#a"],
      'bindingKeys[0]: word 1 "#a" mixes a wildcard with other characters; ' +
      '"*" and "#" must stand alone as a word',
    ],
    [["a\tb"], "bindingKeys[0]: must not contain control characters"],
    [["a.\ud800"], "bindingKeys[0]: must be well-formed Unicode (lone surrogate)"],
  ]);
});

Deno.test("routing key: ≤ 64 bytes, ≤ 16 non-empty words, no wildcards; empty means none", () => {
  const sixteenWords = Array(16).fill("w").join(".");
  checkTable(validateRoutingKey, [
    ["", null],
    ["orders", null],
    ["orders.eu.created", null],
    [sixteenWords, null],
    ["a".repeat(64), null],
    ["a".repeat(65), "routingKey: at most 64 bytes (UTF-8), got 65"],
    [sixteenWords + ".w", "routingKey: at most 16 dot-separated words, got 17"],
    ["a..b", "routingKey: word 2 is empty; words between dots must not be empty"],
    ["a.", "routingKey: word 2 is empty; words between dots must not be empty"],
    ["orders.*", 'routingKey: must not contain "*" or "#" (wildcards belong in binding keys)'],
    ["#", 'routingKey: must not contain "*" or "#" (wildcards belong in binding keys)'],
    ["user#1", 'routingKey: must not contain "*" or "#" (wildcards belong in binding keys)'],
    ["a\u0000", "routingKey: must not contain control characters"],
    ["\ud83d", "routingKey: must be well-formed Unicode (lone surrogate)"],
  ]);
});

Deno.test("keys split into words like RabbitMQ: empty is zero words, every dot separates", () => {
  assert.deepEqual(splitKeyWords(""), []);
  assert.deepEqual(splitKeyWords("a"), ["a"]);
  assert.deepEqual(splitKeyWords("a.b.c"), ["a", "b", "c"]);
  assert.deepEqual(splitKeyWords("a..b"), ["a", "", "b"]);
  assert.deepEqual(splitKeyWords("."), ["", ""]);
});

Deno.test("the UTF-8 byte count agrees with TextEncoder, lone surrogates included", () => {
  const encoder = new TextEncoder();
  for (const text of ["", "abc", "héllo", "订单", "😀x", "a\ud800b", "\udc00", "\ud83d"]) {
    assert.equal(utf8ByteLength(text), encoder.encode(text).length, JSON.stringify(text));
    // Long texts take the other path (past the native count's scratch buffer): the same answer.
    const long = text.repeat(30_000) + "x".repeat(25_000);
    assert.equal(
      utf8ByteLength(long),
      encoder.encode(long).length,
      `${JSON.stringify(text)} × 30000`,
    );
  }
});
