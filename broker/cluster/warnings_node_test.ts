/**
 * Where a running node's lines go when nothing is injected (as `main.ts` starts it): what asks an
 * operator to act (a certificate near its end, a disk alarm and its clearing) on stderr, with the
 * start's warnings; what it only tells (its opening line) on stdout.
 */
import assert from "node:assert/strict";
import { SimFileSystem } from "../../storage/mod.ts";
import type { Timers } from "../replication/mod.ts";
import { hasOpenssl, makeCertificates } from "../transport/testing/mod.ts";
import { realTimers } from "./real_time.ts";
import { startOneNode, until } from "./testing/mod.ts";

Deno.test({
  name: "a running node's warnings go to stderr by default, its other lines stay on stdout",
  ignore: !hasOpenssl(),
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "cmqd-warnings-" });
    const stdout: string[] = [];
    const stderr: string[] = [];
    const { log, error } = console;
    try {
      // The test certificates live two days: within the 14 days that are warned of.
      const { cert } = await makeCertificates(dir);
      const pem = await Deno.readTextFile(cert);
      const daily: Array<() => void> = [];
      const timers: Timers = {
        setTimer(delayMs, callback) {
          if (delayMs !== 86_400_000) return realTimers.setTimer(delayMs, callback);
          daily.push(callback);
          return null;
        },
        clearTimer(handle) {
          if (handle !== null) realTimers.clearTimer(handle);
        },
      };
      let freeBytes = 0;
      console.log = (...args: unknown[]) => void stdout.push(args.join(" "));
      console.error = (...args: unknown[]) => void stderr.push(args.join(" "));
      const node = await startOneNode(new SimFileSystem(), {
        timers,
        servedCertificates: [{ listener: "client", path: cert, pem }],
        minFreeDiskBytes: 1024 * 1024,
        freeDiskBytes: () => freeBytes,
      });
      try {
        daily[0]();
        freeBytes = 1024 * 1024 * 1024;
        const all = () => [...stdout, ...stderr];
        await until(() => all().some((line) => line.includes("disk alarm cleared")), "clearing");
        const warned = (pattern: RegExp) => ({
          stderr: stderr.filter((line) => pattern.test(line)).length,
          stdout: stdout.filter((line) => pattern.test(line)).length,
        });
        assert.deepEqual(warned(/^cmqd n1: WARNING: --tls-cert /), { stderr: 1, stdout: 0 });
        assert.deepEqual(warned(/^cmqd n1: disk alarm: /), { stderr: 1, stdout: 0 });
        assert.deepEqual(warned(/^cmqd n1: disk alarm cleared: /), { stderr: 1, stdout: 0 });
        // What it only tells stays where it was.
        assert.deepEqual(warned(/^cmqd n1: opened the log/), { stderr: 0, stdout: 1 });
      } finally {
        await node.close();
      }
    } finally {
      console.log = log;
      console.error = error;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("--force-new-cluster's lines (a warning, or what to start without the flag) are warnings", async () => {
  const fs = new SimFileSystem();
  const quiet = { report: () => {}, warn: () => {} };
  await (await startOneNode(fs, quiet)).close();
  const reported: string[] = [];
  const warned: string[] = [];
  const node = await startOneNode(fs, {
    forceNewCluster: true,
    report: (line) => reported.push(line),
    warn: (line) => warned.push(line),
  });
  await node.close();
  assert.equal(warned.length, 1, warned.join("\n"));
  assert.match(warned[0], /^cmqd n1: --force-new-cluster: already the sole voter of its group/);
  assert.ok(!reported.some((line) => line.includes("--force-new-cluster")), reported.join("\n"));
});

Deno.test("an SQS request's 503 detail (the replica's words) is a warning: stderr, not stdout", async () => {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const { log, error } = console;
  console.log = (...args: unknown[]) => void stdout.push(args.join(" "));
  console.error = (...args: unknown[]) => void stderr.push(args.join(" "));
  try {
    // Free space under the floor: the node refuses sends (InsufficientStorage), which SQS
    // clients get as ServiceUnavailable; the node's own words go to its operator.
    let freeBytes = 1024 * 1024 * 1024;
    const node = await startOneNode(new SimFileSystem(), {
      minFreeDiskBytes: 1024 * 1024,
      freeDiskBytes: () => freeBytes,
    });
    try {
      await node.broker.createQueue("jobs", {});
      freeBytes = 0;
      await until(() => stderr.some((line) => line.includes("disk alarm: ")), "the alarm");
      const response = await node.app.fetch(
        new Request("http://127.0.0.1:1/", {
          method: "POST",
          headers: {
            "content-type": "application/x-amz-json-1.0",
            "x-amz-target": "AmazonSQS.SendMessage",
          },
          body: JSON.stringify({
            QueueUrl: "http://127.0.0.1:1/000000000000/jobs",
            MessageBody: "m",
          }),
        }),
      );
      const answer = await response.json();
      assert.equal(response.status, 503, JSON.stringify(answer));
      assert.match(answer.__type, /ServiceUnavailable/);
    } finally {
      await node.close();
    }
  } finally {
    console.log = log;
    console.error = error;
  }
  const detail = (line: string) =>
    /^cmqd n1: SQS request \S+ answered ServiceUnavailable: /.test(line);
  assert.equal(stderr.filter(detail).length, 1, stderr.join("\n"));
  assert.equal(stdout.filter(detail).length, 0, stdout.join("\n"));
});
