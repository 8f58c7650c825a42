import assert from "node:assert/strict";
import fc from "fast-check";
import type { LogEntry } from "./record.ts";
import { SegmentLog } from "./segment_log.ts";
import { seededRandom, SimFileSystem } from "./sim_file_system.ts";
import { payloadFor } from "./_test_helpers.ts";

/** The reference: a plain array of entries and a durable watermark. */
interface Model {
  entries: LogEntry[];
  /** Index of the entry before entries[0]. */
  startIndex: number;
  startTerm: number;
  durableIndex: number;
  clock: number;
}

type Command =
  | { kind: "append"; sizes: number[]; newTerm: boolean; durable: boolean }
  | { kind: "sync" }
  | { kind: "truncate"; back: number }
  | { kind: "deletePrefix"; fraction: number }
  | { kind: "reset"; ahead: number }
  | { kind: "crash"; torn: boolean; seed: number }
  | { kind: "reopen" };

const commandArbitrary: fc.Arbitrary<Command> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant("append" as const),
      sizes: fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 6 }),
      newTerm: fc.boolean(),
      durable: fc.boolean(),
    }),
    weight: 8,
  },
  { arbitrary: fc.constant({ kind: "sync" as const }), weight: 2 },
  {
    arbitrary: fc.record({
      kind: fc.constant("truncate" as const),
      back: fc.integer({ min: 0, max: 12 }),
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant("deletePrefix" as const),
      fraction: fc.double({ min: 0, max: 1, noNaN: true }),
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant("reset" as const),
      ahead: fc.integer({ min: 0, max: 5 }),
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant("crash" as const),
      torn: fc.boolean(),
      seed: fc.integer({ min: 0, max: 1_000_000 }),
    }),
    weight: 2,
  },
  { arbitrary: fc.constant({ kind: "reopen" as const }), weight: 1 },
);

const dir = "/property/log";
const logOptions = { segmentBytesMax: 400, indexIntervalBytes: 96 };

function lastIndexOf(model: Model): number {
  return model.startIndex + model.entries.length;
}

function lastTermOf(model: Model): number {
  return model.entries.at(-1)?.term ?? model.startTerm;
}

function assertMatches(log: SegmentLog, model: Model): void {
  assert.equal(log.firstIndex, model.startIndex + 1);
  assert.equal(log.lastIndex, lastIndexOf(model));
  assert.equal(log.lastTerm, lastTermOf(model));
  if (model.entries.length > 0) {
    assert.deepEqual(log.entries(log.firstIndex, log.lastIndex + 1), model.entries);
  }
}

async function apply(
  state: { fs: SimFileSystem; log: SegmentLog; model: Model },
  command: Command,
): Promise<void> {
  const { model } = state;
  switch (command.kind) {
    case "append": {
      const term = lastTermOf(model) + (command.newTerm ? 1 : 0);
      const entries = command.sizes.map((size, i): LogEntry => {
        const index = lastIndexOf(model) + 1 + i;
        model.clock += size % 3; // sometimes equal timestamps
        return {
          term,
          index,
          timestamp: model.clock,
          type: size & 0xff,
          payload: payloadFor(index, size),
        };
      });
      model.entries.push(...entries);
      if (command.durable) {
        await state.log.appendDurable(entries);
        model.durableIndex = lastIndexOf(model);
      } else {
        state.log.append(entries);
      }
      return;
    }
    case "sync":
      await state.log.sync();
      model.durableIndex = lastIndexOf(model);
      return;
    case "truncate": {
      const from = Math.max(lastIndexOf(model) - command.back, model.startIndex + 1);
      if (from === model.startIndex + 1 && model.entries.length > 0 && model.startIndex === 0) {
        // Emptying the log down to index 0 is allowed (its term 0 is known).
      }
      await state.log.truncateSuffix(from);
      model.entries.splice(from - model.startIndex - 1);
      model.durableIndex = Math.min(model.durableIndex, from - 1);
      return;
    }
    case "deletePrefix": {
      const before = model.startIndex + 1 + Math.floor(command.fraction * model.entries.length);
      await state.log.deletePrefix(before);
      const dropped = state.log.firstIndex - model.startIndex - 1;
      assert.ok(dropped >= 0 && state.log.firstIndex <= Math.max(before, model.startIndex + 1));
      if (dropped > 0) {
        model.startTerm = model.entries[dropped - 1].term;
        model.entries.splice(0, dropped);
      }
      return;
    }
    case "reset": {
      const index = lastIndexOf(model) + command.ahead;
      const term = lastTermOf(model) + 1;
      await state.log.resetTo(index, term);
      model.entries = [];
      model.startIndex = index;
      model.startTerm = term;
      model.durableIndex = index;
      return;
    }
    case "crash": {
      state.fs.crash({ random: seededRandom(command.seed), tornWrites: command.torn });
      state.log = await SegmentLog.open(dir, { fs: state.fs, ...logOptions });
      // Everything durable survived; of the rest, a prefix may have.
      const kept = state.log.lastIndex - model.startIndex;
      assert.ok(state.log.lastIndex >= model.durableIndex, "a durable entry was lost");
      assert.ok(kept <= model.entries.length, "entries appeared from nowhere");
      model.entries.splice(kept);
      model.durableIndex = state.log.lastIndex;
      return;
    }
    case "reopen":
      await state.log.close();
      state.log = await SegmentLog.open(dir, { fs: state.fs, ...logOptions });
      model.durableIndex = lastIndexOf(model);
      assert.equal(state.log.recovery.corruptAt, undefined);
      return;
  }
}

Deno.test("random appends, truncations, deletions, resets, crashes and reopens match an array model", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(commandArbitrary, { minLength: 1, maxLength: 40 }),
      async (commands) => {
        const fs = new SimFileSystem();
        const model: Model = {
          entries: [],
          startIndex: 0,
          startTerm: 0,
          durableIndex: 0,
          clock: 1000,
        };
        const state = { fs, log: await SegmentLog.open(dir, { fs, ...logOptions }), model };
        for (const command of commands) {
          // After a deletePrefix the entry before the log has no known term: do not empty it.
          if (
            command.kind === "truncate" && model.startIndex > 0 &&
            lastIndexOf(model) - command.back <= model.startIndex + 1 &&
            !startTermKnown(state.log, model)
          ) {
            continue;
          }
          await apply(state, command);
          assertMatches(state.log, model);
        }
        await state.log.close();
      },
    ),
    { seed: 20_251_125, numRuns: 150 },
  );
});

function startTermKnown(log: SegmentLog, model: Model): boolean {
  try {
    return log.term(model.startIndex) === model.startTerm;
  } catch {
    return false;
  }
}
