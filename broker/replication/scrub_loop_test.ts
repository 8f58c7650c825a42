import assert from "node:assert/strict";
import { type LogEntry, SegmentLog, SimFileSystem } from "../../storage/mod.ts";
import { ManualClock } from "./testing/mod.ts";
import { ScrubLoop } from "./scrub_loop.ts";

const dir = "/node/log";
const options = { segmentBytesMax: 1500, indexIntervalBytes: 256 };

async function reopenedLog(fs: SimFileSystem): Promise<SegmentLog> {
  const log = await SegmentLog.open(dir, { fs, ...options });
  const entries: LogEntry[] = [];
  for (let index = 1; index <= 60; index++) {
    const payload = new Uint8Array(150).fill(index & 0xff);
    entries.push({ term: 1, index, timestamp: 1_000 + index, type: 0, payload });
  }
  await log.appendDurable(entries);
  await log.close();
  return await SegmentLog.open(dir, { fs, ...options });
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

Deno.test("the scrub loop reads at its rate, skips steps while the event loop is late, and reports the end", async () => {
  const fs = new SimFileSystem();
  const log = await reopenedLog(fs);
  const clock = new ManualClock(0);
  let lateMs = 0;
  const reports: string[] = [];
  const damages: Error[] = [];
  const loop = new ScrubLoop({
    scrubber: log.scrubber(),
    timers: clock,
    monotonic: { now: () => clock.now() + lateMs },
    bytesPerSecond: 5_000,
    stepMs: 100,
    startDelayMs: 0,
    lateMsMax: 50,
    report: (message) => reports.push(message),
    onDamage: (error) => damages.push(error),
  });
  loop.start();
  assert.match(reports[0], /scrub: reading \d+ segments trusted by their index/);

  lateMs = 200; // the timer fires 200 ms behind schedule: the node is busy
  clock.advance(0);
  await settle();
  assert.deepEqual(loop.stats, { bytes: 0, pausedSteps: 1 });

  lateMs = 0;
  clock.advance(100);
  await settle();
  const first = loop.stats.bytes;
  // 5,000 B/s in 100 ms steps: 500 bytes, or the one record (183 bytes) that crosses the budget.
  assert.ok(first > 0 && first <= 500 + 183, `first step read ${first} bytes`);

  for (let step = 0; step < 1_000 && !reports.at(-1)!.includes("verified"); step++) {
    clock.advance(100);
    await settle();
  }
  assert.match(reports.at(-1)!, /scrub: \d+ segments verified, no damage/);
  assert.deepEqual(damages, []);
  assert.equal(clock.timerCount, 0, "the loop stops once everything is read");
  await log.close();
});
