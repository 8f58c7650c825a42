import assert from "node:assert/strict";
import { ManualClock } from "../replication/testing/mod.ts";
import { DiskGuard } from "./disk_guard.ts";

const mib = 1024 * 1024;

Deno.test("the disk guard refuses data below the threshold and clears by itself when space returns", () => {
  const clock = new ManualClock(0);
  let free = 500 * mib;
  const reports: string[] = [];
  const guard = new DiskGuard({
    path: "/data",
    minFreeBytes: 100 * mib,
    freeBytes: () => free,
    timers: clock,
    report: (message) => reports.push(message),
  });
  assert.equal(guard.refusal(), null);
  free = 99 * mib;
  clock.advance(1000);
  const refusal = guard.refusal();
  assert.equal(refusal?.code, "InsufficientStorage");
  assert.match(refusal!.message, /99 MiB is below --min-free-disk-mb 100/);
  assert.match(reports.at(-1)!, /disk alarm: 99 MiB free on \/data/);
  free = 300 * mib;
  clock.advance(1000);
  assert.equal(guard.refusal(), null);
  assert.match(reports.at(-1)!, /cleared/);
  guard.stop();
  assert.equal(clock.timerCount, 0);
});

Deno.test("a threshold of 0 turns the guard off and reads nothing", () => {
  const clock = new ManualClock(0);
  const guard = new DiskGuard({
    path: "/data",
    minFreeBytes: 0,
    freeBytes: () => assert.fail("not read"),
    timers: clock,
    report: () => {},
  });
  assert.equal(guard.refusal(), null);
  assert.equal(clock.timerCount, 0);
});

Deno.test("free space that can't be read is reported once, not every poll, and its return too", () => {
  const clock = new ManualClock(0);
  let failure: Error | null = new Error("EIO");
  const reports: string[] = [];
  const guard = new DiskGuard({
    path: "/data",
    minFreeBytes: 100 * mib,
    freeBytes: () => {
      if (failure !== null) throw failure;
      return 500 * mib;
    },
    timers: clock,
    report: (message) => reports.push(message),
  });
  for (let second = 0; second < 60; second++) clock.advance(1000);
  assert.equal(reports.length, 1);
  assert.match(reports[0], /cannot read free space of \/data: EIO/);
  assert.equal(guard.refusal(), null, "the last verdict (none yet: not low) is kept");
  failure = null;
  clock.advance(1000);
  assert.equal(reports.length, 2);
  assert.match(reports[1], /readable again/);
  failure = new Error("ENOENT");
  clock.advance(1000);
  assert.match(reports.at(-1)!, /ENOENT/);
  guard.stop();
});
