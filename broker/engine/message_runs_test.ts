import assert from "node:assert/strict";
import fc from "fast-check";
import { MessageRuns } from "./message_runs.ts";
import { ByteReader, ByteWriter } from "./binary.ts";

Deno.test("message runs locate every sequence like a plain array", () => {
  const batchArb = fc.record({
    count: fc.integer({ min: 1, max: 20 }),
    logStep: fc.integer({ min: -3, max: 5 }),
    slot: fc.integer({ min: 0, max: 4 }),
    timeStep: fc.constantFrom(0, 0, 1, 1000, 5_000_000_000),
  });
  fc.assert(
    fc.property(fc.array(batchArb, { maxLength: 60 }), fc.nat(), (batches, trimSeed) => {
      const runs = new MessageRuns(1);
      const model: { logIndex: number; slot: number; time: number }[] = [];
      let logIndex = 1_000;
      let time = 0;
      for (const batch of batches) {
        logIndex += batch.logStep;
        time += batch.timeStep;
        runs.append(batch.count, { logIndex, slot: batch.slot, time });
        for (let k = 0; k < batch.count; k++) model.push({ logIndex, slot: batch.slot + k, time });
      }
      const low = 1 + (model.length === 0 ? 0 : trimSeed % (model.length + 1));
      runs.trimBelow(low);
      const writer = new ByteWriter();
      runs.write(writer);
      const copy = MessageRuns.read(new ByteReader(writer.finish()));
      for (const candidate of [runs, copy]) {
        assert.equal(candidate.endSequence, model.length + 1);
        for (let sequence = low; sequence <= model.length; sequence++) {
          assert.deepEqual(candidate.locate(sequence), model[sequence - 1]);
        }
        for (const probe of [0, 1, 1000, 5_000_000_000, time, time + 1]) {
          let expected = low;
          while (expected <= model.length && model[expected - 1].time < probe) expected++;
          assert.equal(candidate.firstAtOrAfter(probe), expected);
        }
        const retained = model.slice(low - 1);
        const minimum = Math.min(...retained.map((entry) => entry.logIndex));
        assert.equal(candidate.minLogIndex(), retained.length ? minimum : Infinity);
      }
    }),
  );
});
