/**
 * Damage found reading a pushed message back is treated as a receive's is: recorded durably, the
 * replica fails (the process is to end; the restart distrusts the log until a leader repairs it)
 * and this node pushes nothing more, so the next leader pushes every pending message, the damaged
 * one included, from its own copy.
 */
import assert from "node:assert/strict";
import { inspectRecord, newRecordHeader, SimFileSystem } from "../../storage/mod.ts";
import { startOneNode, until } from "./testing/mod.ts";

/** Where the record of entry `index` starts in the log's segments. */
function recordOf(fs: SimFileSystem, index: number): { path: string; offset: number } {
  for (const name of fs.readDir("/d/log").filter((name) => name.endsWith(".log"))) {
    const path = `/d/log/${name}`;
    const bytes = fs.fileBytes(path);
    const header = newRecordHeader();
    for (let offset = 0; offset < bytes.length; offset += header.bytes) {
      if (inspectRecord(bytes, offset, { header, verify: true }) !== "ok") break;
      if (header.index === index) return { path, offset };
    }
  }
  throw new Error(`entry ${index} not found`);
}

Deno.test("damage found reading a pushed message fails the replica as a receive's does, and the node pushes nothing more", async () => {
  const fs = new SimFileSystem();
  const pushed: string[] = [];
  const node = await startOneNode(fs, {
    pushFetch: (_url, init) => {
      pushed.push(init.body);
      return Promise.resolve({ status: 200 });
    },
  });
  const fatal: Error[] = [];
  node.onFatal((error) => fatal.push(error));
  await node.topics.createTopic("t", {});
  for (const [name, tag] of [["s", "x"], ["r", "y"]]) {
    await node.topics.subscribe("t", name, {
      endpoint: { url: `http://127.0.0.1:9/${name}` },
      format: "simplified",
      filterTags: [tag],
    });
  }
  node.push.stop(); // nothing is read back before the damage
  for (const [body, tag] of [["a", "x"], ["b", "x"], ["c", "y"]]) {
    await node.topics.publish("t", [{ body: body.repeat(200), tags: [tag] }]); // one entry each
  }
  const target = node.machine.topics.pushTargets().find((target) => target.subscription === "s")!;
  const due = node.machine.topics.duePushes(target, Infinity, { limit: 10, skip: () => false });
  const damagedIndex = due.find((push) => push.sequence === 2)!.logIndex; // "b"
  const at = recordOf(fs, damagedIndex);
  fs.flipBit(at.path, at.offset + 60);
  node.push.start();
  await until(() => fatal.length > 0, "the replica to fail");
  assert.match(fatal[0].message, /corrupt log: bad crc/);
  assert.equal(node.log.damage?.torn, false, "recorded durably as damage, as a receive's read");
  assert.equal(node.log.damage?.detail.index, damagedIndex);
  assert.equal(node.push.stats().running, false, "the node stopped pushing");
  const requests = node.push.stats().requests;
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(node.push.stats().requests, requests);
  assert.deepEqual(pushed, [], "the pass that found it pushed nothing after the replica failed");
  await node.close();
});
