import assert from "node:assert/strict";
import { MachineMeter, parseDiskStats, parseProcStat, pidList } from "./machine_stats.ts";
import { cpuSeconds } from "./process_stats.ts";

const procStat = `cpu  100 5 50 800 20 3 2 0 7 0
cpu0 50 2 25 400 10 1 1 0 3 0
cpu1 50 3 25 400 10 2 1 0 4 0
intr 12345
ctxt 999
`;

Deno.test("the machine's CPU is read from /proc/stat: busy is neither idle nor waiting for I/O", () => {
  // user nice system idle iowait irq softirq steal; guest (7) is inside user already.
  assert.deepEqual(parseProcStat(procStat), { busy: 160, total: 980, cores: 2 });
  assert.equal(parseProcStat("intr 1\n"), null);
  assert.equal(parseProcStat("cpu  1 x 3 4 5\n"), null);
});

const diskStats = `
 253       0 vda 9000 10 720000 500 40000 300 8000000 9000 0 12000 9500 0 0 0 0
 253       1 vda1 8000 10 700000 450 39000 300 7900000 8800 0 11000 9200 0 0 0 0
   7       0 loop0 50 0 400 1 0 0 0 0 0 4 1 0 0 0 0
`;

Deno.test("/proc/diskstats counts whole disks only: busy time and sectors written", () => {
  assert.deepEqual(parseDiskStats(diskStats, new Set(["vda"])), [
    { device: "vda", busyMs: 12000, sectorsWritten: 8000000 },
  ]);
  assert.deepEqual(parseDiskStats(diskStats, new Set()), []);
  assert.deepEqual(parseDiskStats("253 0 vda 1 2\n", new Set(["vda"])), []);
});

Deno.test("--node-pids takes a comma list of PIDs and refuses anything else", () => {
  assert.deepEqual(pidList(""), []);
  assert.deepEqual(pidList("12, 34,56"), [12, 34, 56]);
  assert.throws(() => pidList("12,abc"), /'abc' is not a PID/);
  assert.throws(() => pidList("0"), /not a PID/);
  assert.throws(() => pidList("-5"), /not a PID/);
});

Deno.test("CPU this process burns shows in its own figure and the machine's", () => {
  const meter = new MachineMeter([Deno.pid]);
  const before = cpuSeconds("self")!;
  meter.start();
  // Spin until the kernel has charged this process 0.1 s (counters tick in 10 ms units).
  while (cpuSeconds("self")! - before < 0.1) {
    for (let index = 0; index < 100_000; index++) Math.sqrt(index);
  }
  const use = meter.stop();
  assert.ok((use.nodeCpuPct?.[0] ?? 0) > 0, `node ${use.nodeCpuPct}`);
  assert.ok((use.machineBusyPct ?? 0) > 0, `machine ${use.machineBusyPct}`);
  const unmeasured = new MachineMeter([]);
  assert.throws(() => unmeasured.stop(), /before start/);
  unmeasured.start();
  assert.equal(unmeasured.stop().nodeCpuPct, null);
});
