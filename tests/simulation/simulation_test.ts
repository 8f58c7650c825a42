import assert from "node:assert/strict";
import { simulate } from "./simulate.ts";

/** Seeds CI runs on every change (`deno task sim` runs many more, longer). */
const ciSeeds = 200;
/** Fault steps per seed (500 ms of simulated time each), sized to keep this file near a minute. */
const ciSteps = 20;

Deno.test("the simulated cluster keeps every promise over a fixed set of seeds", async (t) => {
  // First: after a couple of hundred in-process runs with clock jumps, `deno test` (not
  // `deno run`) has shown a replay diverge — interference between runs in one process, not a
  // property of the seed, which replays exactly from a fresh process (`run.ts`).
  await t.step("a seed replays exactly", async () => {
    const first = await simulate({ seed: 7, steps: ciSteps });
    const second = await simulate({ seed: 7, steps: ciSteps });
    assert.deepEqual(second, first);
  });
  for (let seed = 1; seed <= ciSeeds; seed++) {
    try {
      await simulate({ seed, steps: ciSteps });
    } catch (error) {
      const replay =
        `deno run -A tests/simulation/run.ts --from ${seed} --seeds 1 --steps ${ciSteps} --verbose`;
      assert.fail(`SEED=${seed}: ${(error as Error).message}\nreplay: ${replay}`);
    }
  }
});

Deno.test("wall clocks jumping days forward and hours back expire nothing early and freeze nothing", async () => {
  let jumps = 0;
  for (let seed = 1; seed <= 12; seed++) {
    try {
      const report = await simulate({ seed, steps: ciSteps, clockJumpRate: 0.5 });
      jumps += report.clockJumps;
    } catch (error) {
      assert.fail(`SEED=${seed} with clock jumps: ${(error as Error).message}`);
    }
  }
  assert.ok(jumps >= 50, `only ${jumps} jumps injected`);
});
