import assert from "node:assert/strict";
import fc from "fast-check";
import type { MessageRoute, SubscriptionFilter, TopicFilterType } from "./topic_filter.ts";
import { TopicRouter } from "./topic_router.ts";

// ---------------------------------------------------------------------------------------------
// The reference: the rules read straight off the API contract and RabbitMQ, one subscription at a time.

function referenceWords(key: string): string[] {
  return key === "" ? [] : key.split(".");
}

/** RabbitMQ topic matching by plain recursion over pattern and key words. */
function referenceKeyMatches(pattern: readonly string[], words: readonly string[]): boolean {
  if (pattern.length === 0) return words.length === 0;
  const [first, ...rest] = pattern;
  if (first === "#") {
    for (let skipped = 0; skipped <= words.length; skipped++) {
      if (referenceKeyMatches(rest, words.slice(skipped))) return true;
    }
    return false;
  }
  if (words.length === 0) return false;
  if (first !== "*" && first !== words[0]) return false;
  return referenceKeyMatches(rest, words.slice(1));
}

function referenceTakes(
  filterType: TopicFilterType,
  filter: SubscriptionFilter,
  message: MessageRoute,
): boolean {
  if (filterType === "tag") {
    const filterTags = filter.filterTags ?? [];
    if (filterTags.length === 0) return true;
    return filterTags.some((tag) => (message.tags ?? []).includes(tag));
  }
  const bindingKeys = filter.bindingKeys ?? [];
  if (bindingKeys.length === 0) return true;
  const words = referenceWords(message.routingKey ?? "");
  return bindingKeys.some((key) => referenceKeyMatches(referenceWords(key), words));
}

function referenceMatch(
  filterType: TopicFilterType,
  subscriptions: ReadonlyMap<number, SubscriptionFilter>,
  message: MessageRoute,
): number[] {
  return [...subscriptions]
    .filter(([, filter]) => referenceTakes(filterType, filter, message))
    .map(([id]) => id)
    .sort((left, right) => left - right);
}

// ---------------------------------------------------------------------------------------------
// Helpers

function routerWith(
  filterType: TopicFilterType,
  subscriptions: Record<number, SubscriptionFilter>,
): TopicRouter {
  const router = new TopicRouter(filterType);
  for (const [id, filter] of Object.entries(subscriptions)) router.add(Number(id), filter);
  return router;
}

/** Whether the single binding key `pattern` takes `routingKey`, through the router. */
function bindingTakes(pattern: string, routingKey: string | undefined): boolean {
  const router = routerWith("routingKey", { 1: { bindingKeys: [pattern] } });
  return router.match({ routingKey }).length === 1;
}

// ---------------------------------------------------------------------------------------------
// Tags

Deno.test("tags: a subscription without filterTags takes every message, tagged or not", () => {
  const router = routerWith("tag", { 1: {}, 2: { filterTags: [] } });
  assert.deepEqual(router.match({}), [1, 2]);
  assert.deepEqual(router.match({ tags: ["apple"] }), [1, 2]);
});

Deno.test("tags: an untagged message skips subscriptions that have filterTags", () => {
  const router = routerWith("tag", { 1: { filterTags: ["apple"] }, 2: {} });
  assert.deepEqual(router.match({}), [2]);
  assert.deepEqual(router.match({ tags: [] }), [2]);
});

Deno.test("tags: a filtered subscription takes a message when the tag sets intersect", () => {
  // CMQ's own scenario: message tags apple, imac, iphone, macbook.
  const router = routerWith("tag", {
    1: { filterTags: ["apple"] },
    2: { filterTags: ["xiaomi"] },
    3: { filterTags: ["imac", "xiaomi"] },
    4: {},
  });
  assert.deepEqual(router.match({ tags: ["apple", "imac", "iphone", "macbook"] }), [1, 3, 4]);
  assert.deepEqual(router.match({ tags: ["xiaomi"] }), [2, 3, 4]);
  assert.deepEqual(router.match({ tags: ["huawei"] }), [4]);
});

Deno.test("tags: five tags each matching a different subscription reach all five", () => {
  const router = routerWith("tag", {
    5: { filterTags: ["e"] },
    4: { filterTags: ["d"] },
    3: { filterTags: ["c"] },
    2: { filterTags: ["b"] },
    1: { filterTags: ["a"] },
  });
  assert.deepEqual(router.match({ tags: ["a", "b", "c", "d", "e"] }), [1, 2, 3, 4, 5]);
});

Deno.test("tags: duplicates and several shared tags still deliver once", () => {
  const router = routerWith("tag", { 7: { filterTags: ["a", "b", "a"] } });
  assert.deepEqual(router.match({ tags: ["a", "b", "a", "b"] }), [7]);
  assert.ok(router.remove(7));
  assert.deepEqual(router.match({ tags: ["a"] }), []);
});

Deno.test("a tag topic ignores routing keys and a routing-key topic ignores tags", () => {
  const tagTopic = routerWith("tag", { 1: { bindingKeys: ["nothing.matches"] } });
  assert.deepEqual(tagTopic.match({ routingKey: "x" }), [1]);
  const keyTopic = routerWith("routingKey", { 1: { filterTags: ["apple"] } });
  assert.deepEqual(keyTopic.match({ tags: ["pear"] }), [1]);
});

// ---------------------------------------------------------------------------------------------
// Routing keys

Deno.test("routing keys: the wildcard table of RabbitMQ's topic exchange", () => {
  const table: [pattern: string, routingKey: string, takes: boolean][] = [
    ["#", "", true],
    ["#", "a", true],
    ["#", "a.b.c", true],
    ["#.#", "", true],
    ["#.#", "a.b", true],
    ["a.#", "a", true],
    ["a.#", "a.b.c", true],
    ["a.#", "b", false],
    ["a.#", "", false],
    ["a.#", "b.a", false],
    ["#.a", "a", true],
    ["#.a", "x.y.a", true],
    ["#.a", "a.x", false],
    ["a.#.b", "a.b", true],
    ["a.#.b", "a.x.b", true],
    ["a.#.b", "a.x.y.z.b", true],
    ["a.#.b", "a.b.c", false],
    ["a.#.#.b", "a.b", true],
    ["a.#.#.b", "a.x.y.b", true],
    ["*", "a", true],
    ["*", "", false],
    ["*", "a.b", false],
    ["*.*", "a.b", true],
    ["*.*", "a", false],
    ["*.*", "a.b.c", false],
    ["*.#", "", false],
    ["*.#", "a", true],
    ["*.#", "a.b.c", true],
    ["#.*", "", false],
    ["#.*", "a.b", true],
    ["#.*.#", "a", true],
    ["a.*.#.c", "a.b.c", true],
    ["a.*.#.c", "a.c", false],
    ["orders.eu.created", "orders.eu.created", true],
    ["orders.eu.created", "orders.eu", false],
    ["orders.eu", "orders.eu.created", false],
    ["1.*.0", "1.any.0", true],
    ["1.#.0", "1.2.3.4.4.2.2.0", true],
    ["1.#.0", "1.0", true],
  ];
  for (const [pattern, routingKey, takes] of table) {
    assert.equal(bindingTakes(pattern, routingKey), takes, `${pattern} vs "${routingKey}"`);
  }
});

Deno.test("routing keys: a message without a routing key has zero words", () => {
  assert.equal(bindingTakes("#", undefined), true);
  assert.equal(bindingTakes("*", undefined), false);
  assert.equal(bindingTakes("a", undefined), false);
});

Deno.test("routing keys: empty words follow RabbitMQ even though validation refuses them", () => {
  // The router must agree across replicas on any input, so it keeps RabbitMQ's exact split.
  assert.equal(bindingTakes("a.*.b", "a..b"), true);
  assert.equal(bindingTakes("*.*", "."), true);
  assert.equal(bindingTakes("a", "a."), false);
  assert.equal(bindingTakes("a..b", "a..b"), true);
  assert.equal(bindingTakes("", ""), true);
  assert.equal(bindingTakes("", "a"), false);
});

Deno.test("routing keys: a subscription without bindingKeys takes every message", () => {
  const router = routerWith("routingKey", {
    1: {},
    2: { bindingKeys: [] },
    3: { bindingKeys: ["a"] },
  });
  assert.deepEqual(router.match({}), [1, 2]);
  assert.deepEqual(router.match({ routingKey: "a" }), [1, 2, 3]);
  assert.deepEqual(router.match({ routingKey: "b.c" }), [1, 2]);
});

Deno.test("routing keys: a subscription with several matching keys is delivered once", () => {
  const router = routerWith("routingKey", {
    9: { bindingKeys: ["#", "a.#", "a.*", "*.b", "a.b"] },
    4: { bindingKeys: ["a.b", "a.b", "a.#.#", "a.#"] },
  });
  assert.deepEqual(router.match({ routingKey: "a.b" }), [4, 9]);
  assert.ok(router.remove(4));
  assert.deepEqual(router.match({ routingKey: "a.b" }), [9]);
});

Deno.test("routing keys: ids come back ascending whatever the insertion order", () => {
  const filters: Record<number, SubscriptionFilter> = {
    30: { bindingKeys: ["#"] },
    4: { bindingKeys: ["a.*"] },
    17: {},
    2: { bindingKeys: ["*.b"] },
    11: { bindingKeys: ["a.b"] },
  };
  const ids = Object.keys(filters).map(Number);
  for (const order of [ids, [...ids].reverse(), [17, 2, 30, 11, 4]]) {
    const router = new TopicRouter("routingKey");
    for (const id of order) router.add(id, filters[id]);
    assert.deepEqual(router.match({ routingKey: "a.b" }), [2, 4, 11, 17, 30]);
  }
});

Deno.test("routing keys: removing every subscription prunes the trie back to its root", () => {
  const router = new TopicRouter("routingKey");
  router.add(1, { bindingKeys: ["a.b.c", "a.#.c", "*.*"] });
  router.add(2, { bindingKeys: ["a.b", "#"] });
  assert.ok(router.trieNodeCount > 1);
  router.remove(1);
  assert.deepEqual(router.match({ routingKey: "a.b" }), [2]);
  router.remove(2);
  assert.equal(router.trieNodeCount, 1);
  assert.equal(router.size, 0);
});

Deno.test("routing keys: many '#' against a long key stay fast (no backtracking blow-up)", () => {
  const router = new TopicRouter("routingKey");
  router.add(1, { bindingKeys: ["#.a.#.a.#.a.#.a.#.a.#.a.#.a.#.a", "#.#.#.#.#.#.#.#.b"] });
  router.add(2, { bindingKeys: ["#.a.#.a.#.a.#.a.#.a.#.a.#.a.#.a.#.z"] });
  const sixteen = Array(16).fill("a").join(".");
  const long = Array(200).fill("a").join(".");
  const started = performance.now();
  assert.deepEqual(router.match({ routingKey: sixteen }), [1]);
  assert.deepEqual(router.match({ routingKey: long }), [1]);
  assert.deepEqual(router.match({ routingKey: long + ".b" }), [1]);
  assert.ok(performance.now() - started < 1000, "matching took longer than a second");
});

// ---------------------------------------------------------------------------------------------
// Bookkeeping

Deno.test("add refuses a held id or a non-integer id; remove reports absence", () => {
  const router = routerWith("tag", { 1: {} });
  assert.throws(() => router.add(1, {}), /already held/);
  assert.throws(() => router.add(1.5, {}), /not a safe integer/);
  assert.throws(() => router.add(Number.NaN, {}), /not a safe integer/);
  assert.equal(router.remove(2), false);
  assert.equal(router.has(1), true);
  assert.equal(router.remove(1), true);
  assert.equal(router.has(1), false);
  assert.equal(router.remove(1), false);
});

Deno.test("the router keeps no reference to the caller's filter arrays", () => {
  const filterTags = ["a"];
  const router = routerWith("tag", { 1: { filterTags } });
  filterTags[0] = "b";
  assert.deepEqual(router.match({ tags: ["a"] }), [1]);
  assert.deepEqual(router.match({ tags: ["b"] }), []);
});

// ---------------------------------------------------------------------------------------------
// The model: random adds, removes and matches agree with the reference

const routingWord = fc.constantFrom("a", "b", "c", "");
const bindingWord = fc.constantFrom("a", "b", "c", "*", "#", "#", "");
const keyOf = (word: fc.Arbitrary<string>, maxLength: number) =>
  fc.array(word, { maxLength }).map((words) => words.join("."));
const tagWord = fc.constantFrom("t1", "t2", "t3", "t4", "t5", "t6");
const filterArbitrary: fc.Arbitrary<SubscriptionFilter> = fc.record({
  filterTags: fc.option(fc.array(tagWord, { maxLength: 4 }), { nil: undefined }),
  bindingKeys: fc.option(fc.array(keyOf(bindingWord, 5), { maxLength: 4 }), { nil: undefined }),
});
const messageArbitrary: fc.Arbitrary<MessageRoute> = fc.record({
  tags: fc.option(fc.array(tagWord, { maxLength: 5 }), { nil: undefined }),
  routingKey: fc.option(keyOf(routingWord, 6), { nil: undefined }),
});
const operationArbitrary = fc.oneof(
  fc.record({ kind: fc.constant("add" as const), id: fc.nat(12), filter: filterArbitrary }),
  fc.record({ kind: fc.constant("remove" as const), id: fc.nat(12) }),
  fc.record({ kind: fc.constant("match" as const), message: messageArbitrary }),
);

for (const filterType of ["tag", "routingKey"] as const) {
  Deno.test(`model: a ${filterType} router agrees with the reference matcher`, () => {
    fc.assert(
      fc.property(fc.array(operationArbitrary, { maxLength: 60 }), (operations) => {
        const router = new TopicRouter(filterType);
        const model = new Map<number, SubscriptionFilter>();
        for (const operation of operations) {
          if (operation.kind === "add") {
            if (model.has(operation.id)) continue;
            router.add(operation.id, operation.filter);
            model.set(operation.id, operation.filter);
          } else if (operation.kind === "remove") {
            assert.equal(router.remove(operation.id), model.delete(operation.id));
          } else {
            const expected = referenceMatch(filterType, model, operation.message);
            assert.deepEqual(router.match(operation.message), expected);
          }
          assert.equal(router.size, model.size);
        }
        for (const id of [...model.keys()]) router.remove(id);
        assert.equal(router.trieNodeCount, 1);
      }),
      { numRuns: 300 },
    );
  });
}
