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
