import assert from "node:assert/strict";
import fc from "fast-check";
import { RunSet } from "./run_set.ts";
import { ByteReader, ByteWriter } from "./binary.ts";

const opArb = fc.record({
  kind: fc.constantFrom("add", "addRange", "removeRange", "trimBelow"),
  start: fc.integer({ min: 0, max: 60 }),
  length: fc.integer({ min: 0, max: 12 }),
});

Deno.test("a run set behaves like a plain set of integers", () => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 80 }), (ops) => {
      const set = new RunSet();
      const model = new Set<number>();
      for (const { kind, start, length } of ops) {
        const end = start + length;
        let changed = 0;
        if (kind === "add") {
          assert.equal(set.add(start), !model.has(start));
          model.add(start);
          continue;
        }
        for (let value = kind === "trimBelow" ? 0 : start; value < end; value++) {
          if (kind === "addRange" && !model.has(value)) changed++, model.add(value);
          if (kind !== "addRange" && model.delete(value)) changed++;
        }
        if (kind === "addRange") assert.equal(set.addRange(start, end), changed);
        if (kind === "removeRange") assert.equal(set.removeRange(start, end), changed);
        if (kind === "trimBelow") assert.equal(set.trimBelow(end), changed);
      }
      assert.equal(set.size, model.size);
      for (let value = 0; value < 80; value++) {
        assert.equal(set.has(value), model.has(value));
        let absent = value;
        while (model.has(absent)) absent++;
        assert.equal(set.nextAbsent(value), absent);
        assert.equal(
          set.countRange(value, value + 7),
          [...model].filter((m) => m >= value && m < value + 7).length,
        );
      }
      const runs = [...set.ranges()];
      for (let index = 1; index < runs.length; index++) {
        assert.ok(runs[index - 1][1] < runs[index][0]);
      }
      const writer = new ByteWriter();
      set.write(writer);
      assert.deepEqual([...RunSet.read(new ByteReader(writer.finish())).ranges()], runs);
    }),
  );
});

Deno.test("addFrom adds another set's members in a range, as adding them one by one would", () => {
  const rangesArb = fc.array(fc.tuple(fc.nat(60), fc.nat(12)), { maxLength: 20 });
  fc.assert(
    fc.property(rangesArb, rangesArb, fc.nat(70), fc.nat(30), (mine, theirs, start, length) => {
      const set = new RunSet();
      const other = new RunSet();
      const expected = new RunSet();
      for (const [from, size] of mine) set.addRange(from, from + size);
      for (const [from, size] of mine) expected.addRange(from, from + size);
      for (const [from, size] of theirs) other.addRange(from, from + size);
      let added = 0;
      for (let value = start; value < start + length; value++) {
        if (other.has(value) && expected.add(value)) added++;
      }
      assert.equal(set.addFrom(other, start, start + length), added);
      assert.deepEqual([...set.ranges()], [...expected.ranges()]);
      assert.equal(set.size, expected.size);
    }),
  );
});
