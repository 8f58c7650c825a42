import assert from "node:assert/strict";
import { MemoryLogStorage } from "./log_storage.ts";
import { Progress } from "./progress.ts";
import {
  type LogIndex,
  logIndex,
  maxIndex,
  minIndex,
  nextIndex,
  nextTerm,
  nodeId,
  prevIndex,
  type Term,
  term,
} from "./types.ts";

// These tests mostly hold at compile time: each `@ts-expect-error` fails `deno test` (which
// type-checks) the day the mistake below it starts to compile.

Deno.test("a term is not accepted where a log index is meant, nor the reverse", () => {
  const aTerm = term(3);
  const anIndex = logIndex(3);
  // @ts-expect-error: a term is not an index
  const indexFromTerm: LogIndex = aTerm;
  // @ts-expect-error: an index is not a term
  const termFromIndex: Term = anIndex;
  // @ts-expect-error: arithmetic yields a plain number; re-branding is explicit
  const computed: LogIndex = anIndex + 1;
  assert.deepEqual([indexFromTerm, termFromIndex, computed], [3, 3, 4]);
});

Deno.test("the core's own interfaces refuse a term for an index", () => {
  const storage = new MemoryLogStorage({ config: { voters: [nodeId("n1")], learners: [] } });
  const limits = { messagesMax: 1, bytesMax: 1 };
  // @ts-expect-error: the storage is asked for the term of an index
  assert.equal(storage.term(term(0)), 0);
  // @ts-expect-error: progress starts at an index
  assert.equal(new Progress(term(1), limits).next, 1);
  const progress = new Progress(logIndex(1), limits);
  // @ts-expect-error: a follower acknowledges an index
  progress.maybeUpdate(nextTerm(term(0)));
  assert.equal(progress.match, 1);
});

Deno.test("the unchecked helpers step and compare indexes and terms", () => {
  const five = logIndex(5);
  assert.equal(nextIndex(five), 6);
  assert.equal(prevIndex(five), 4);
  assert.equal(minIndex(five, logIndex(2)), 2);
  assert.equal(maxIndex(five, logIndex(2)), 5);
  assert.equal(nextTerm(term(7)), 8);
});

Deno.test("the checking constructors refuse what is not a non-negative integer", () => {
  assert.throws(() => logIndex(-1), /log index -1/);
  assert.throws(() => logIndex(1.5), /log index 1.5/);
  assert.throws(() => term(Number.NaN), /term NaN/);
});
