import assert from "node:assert/strict";
import { StateMachine } from "./state_machine.ts";
import { CommandType } from "./types.ts";
import { encodeCreateQueue, encodeQueueCommand } from "./commands.ts";
import { resolveCreate } from "./queue_attributes.ts";
import { QueueTable } from "./queue_table.ts";

const now = 1_700_000_000_000;

class Driver {
  machine = new StateMachine();
  index = 0;

  apply(type: number, payload: Uint8Array): unknown {
    return this.machine.apply({ index: ++this.index, timestamp: now, type, payload });
  }
  create(queue: string): unknown {
    const attributes = resolveCreate({});
    return this.apply(CommandType.CreateQueue, encodeCreateQueue({ queue, attributes, salt: 5 }));
  }
  remove(queue: string): unknown {
    return this.apply(CommandType.DeleteQueue, encodeQueueCommand({ queue }));
  }
}

function names(machine: StateMachine, prefix?: string, offset?: number, limit = 1000) {
  const list = machine.listQueues({ prefix, offset, limit }, now);
  return { total: list.total, names: list.queues.map((queue) => queue.name) };
}

function all(machine: StateMachine, prefix?: string) {
  return names(machine, prefix).names;
}

Deno.test("listQueues answers names in sorted order across creates and deletes in any order", () => {
  const driver = new Driver();
  for (const name of ["m", "b", "z", "a", "ab", "B", "a-1", "a_1", "aa"]) driver.create(name);
  assert.deepEqual(all(driver.machine), ["B", "a", "a-1", "a_1", "aa", "ab", "b", "m", "z"]);
  driver.remove("a");
  driver.remove("z");
  assert.ok(driver.remove("nope") instanceof Error);
  driver.create("zz");
  driver.create("a"); // again, under a deleted name
  driver.create("m"); // an equal create: no second copy of the name
  assert.deepEqual(all(driver.machine), ["B", "a", "a-1", "a_1", "aa", "ab", "b", "m", "zz"]);
  assert.deepEqual(all(driver.machine, "a"), ["a", "a-1", "a_1", "aa", "ab"]);
  assert.deepEqual(all(driver.machine, "a_"), ["a_1"]);
  assert.deepEqual(all(driver.machine, "c"), []);
  assert.deepEqual(all(driver.machine, "zzz"), []);
  assert.deepEqual(names(driver.machine, "a", 1, 2), { total: 5, names: ["a-1", "a_1"] });
  assert.deepEqual(names(driver.machine, "a", 4, 10), { total: 5, names: ["ab"] });
  assert.deepEqual(names(driver.machine, "a", 9, 10), { total: 5, names: [] });
  assert.deepEqual(names(driver.machine, undefined, 7, 10), { total: 9, names: ["m", "zz"] });
  assert.equal(driver.machine.queueCount, 9);
});

Deno.test("listQueues keeps the sorted order through a restore and a snapshot loaded in place", () => {
  const driver = new Driver();
  for (const name of ["q3", "q1", "q2", "p9"]) driver.create(name);
  driver.remove("q1");
  const bytes = driver.machine.snapshot();
  const restored = StateMachine.restore(bytes);
  assert.deepEqual(all(restored), ["p9", "q2", "q3"]);
  // A follower whose own queues differ takes the snapshot's, forgetting its own names.
  const follower = new Driver();
  for (const name of ["x", "q1", "a"]) follower.create(name);
  follower.machine.loadSnapshot(bytes);
  assert.deepEqual(all(follower.machine), ["p9", "q2", "q3"]);
  follower.index = driver.index;
  follower.create("q0");
  follower.remove("q3");
  assert.deepEqual(all(follower.machine), ["p9", "q0", "q2"]);
  // Creation order (what snapshots keep) is unchanged by the sorted names.
  assert.deepEqual(
    StateMachine.restore(follower.machine.snapshot()).snapshot(),
    follower.machine.snapshot(),
  );
});

Deno.test("listQueues (each /metrics scrape) sorts no names: the order is kept as queues come and go", () => {
  const driver = new Driver();
  for (let i = 0; i < 50; i++) driver.create(`queue-${(i * 37) % 50}`);
  const sort = Array.prototype.sort;
  let sorts = 0;
  Array.prototype.sort = function (this: unknown[], compare?: (a: unknown, b: unknown) => number) {
    sorts++;
    return sort.call(this, compare);
  };
  let listed;
  try {
    listed = names(driver.machine, undefined, 0, 3);
  } finally {
    Array.prototype.sort = sort;
  }
  assert.equal(sorts, 0);
  assert.deepEqual(listed, { total: 50, names: ["queue-0", "queue-1", "queue-10"] });
});

Deno.test("QueueTable keeps sorted names as a Map is set, deleted and cleared", () => {
  const table = new QueueTable<number>();
  table.set("b", 1).set("a", 2).set("b", 3).set("c", 4);
  assert.deepEqual([...table.keys()], ["b", "a", "c"]); // still a Map: insertion order
  assert.deepEqual(table.page("", 0, 10), { total: 3, names: ["a", "b", "c"] });
  assert.equal(table.delete("x"), false);
  assert.equal(table.delete("b"), true);
  assert.deepEqual(table.page("", 0, 10), { total: 2, names: ["a", "c"] });
  table.clear();
  assert.deepEqual(table.page("", 0, 10), { total: 0, names: [] });
  table.set("d", 5);
  assert.deepEqual(table.page("d", 0, 10), { total: 1, names: ["d"] });
});

Deno.test("listQueues after a name: only names that sort after it, within the prefix, counted", () => {
  const driver = new Driver();
  for (const name of ["a1", "a2", "a3", "a5", "b1"]) driver.create(name);
  const after = (prefix: string | undefined, name: string, limit = 1000) => {
    const list = driver.machine.listQueues({ prefix, after: name, limit }, now);
    return { total: list.total, names: list.queues.map((queue) => queue.name) };
  };
  assert.deepEqual(after("a", "a2"), { total: 2, names: ["a3", "a5"] });
  // A name no longer there (deleted since the page that ended with it) works as well.
  assert.deepEqual(after("a", "a4", 1), { total: 1, names: ["a5"] });
  assert.deepEqual(after("a", "a5"), { total: 0, names: [] });
  // Before the prefix's run: the whole run; past every name: nothing.
  assert.deepEqual(after("a", "0"), { total: 4, names: ["a1", "a2", "a3", "a5"] });
  assert.deepEqual(after(undefined, "a5"), { total: 1, names: ["b1"] });
  assert.deepEqual(after(undefined, "z"), { total: 0, names: [] });
});
