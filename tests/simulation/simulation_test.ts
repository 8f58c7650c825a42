import assert from "node:assert/strict";
import { simulate } from "./simulate.ts";

/** Seeds CI runs on every change (`deno task sim` runs many more, longer). */
const ciSeeds = 200;
/** Fault steps per seed (500 ms of simulated time each), sized to keep this file near a minute. */
const ciSteps = 20;

Deno.test("the simulated cluster keeps every promise over a fixed set of seeds", async (t) => {
  for (let seed = 1; seed <= ciSeeds; seed++) {
    try {
      await simulate({ seed, steps: ciSteps });
    } catch (error) {
      const replay =
        `deno run -A tests/simulation/run.ts --from ${seed} --seeds 1 --steps ${ciSteps} --verbose`;
      assert.fail(`SEED=${seed}: ${(error as Error).message}\nreplay: ${replay}`);
    }
  }
  await t.step("a seed replays exactly", async () => {
    const first = await simulate({ seed: 7, steps: ciSteps });
    const second = await simulate({ seed: 7, steps: ciSteps });
    assert.deepEqual(second, first);
  });
});
