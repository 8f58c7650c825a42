import assert from "node:assert/strict";
import { failedStopExitCode, sameStopRequestMs } from "../../broker/mod.ts";
import { freePort, startBroker } from "./process.ts";

// A supervisor (or a test) may stop the broker the moment it prints "serving": the stop signals
// must be handled by then, or SIGTERM kills it outright (exit 143, no shutdown). CI hit that
// once, under load, when the listeners were installed just after the line.

Deno.test("main.ts listens for SIGINT and SIGTERM before it prints that it serves", async () => {
  const source = await Deno.readTextFile(new URL("../../main.ts", import.meta.url));
  const serving = source.indexOf("serving ${url}");
  assert.ok(serving > 0, "main.ts prints the serving line");
  for (const signal of ["SIGINT", "SIGTERM"]) {
    const listener = source.indexOf(`Deno.addSignalListener("${signal}"`);
    assert.ok(listener > 0 && listener < serving, `${signal} is handled before "serving"`);
  }
});

Deno.test("a SIGTERM sent as soon as the broker serves shuts it down cleanly", async () => {
  for (let round = 0; round < 3; round++) {
    const dataDir = await Deno.makeTempDir({ prefix: "cmqd-stop-" });
    try {
      const broker = await startBroker({ dataDir });
      const code = await broker.stop(); // SIGTERM right after reading "serving"
      assert.equal(code, 0, broker.output());
      assert.match(broker.output(), /SIGTERM, shutting down[\s\S]*stopped/);
    } finally {
      await Deno.remove(dataDir, { recursive: true });
    }
  }
});

Deno.test("a second stop signal during the graceful stop ends the process at once, status 1", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "cmqd-stop-twice-" });
  const broker = await startBroker({ dataDir });
  let conn: Deno.TcpConn | null = null;
  try {
    // A request whose body never ends: the graceful stop waits up to 2 s for it to finish.
    conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(new URL(broker.url).port) });
    await conn.write(new TextEncoder().encode(
      "POST /v1/queues/orders/messages HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n" +
        "content-length: 1000\r\nexpect: 100-continue\r\n\r\n",
    ));
    // "100 Continue" comes once the handler reads the body: the request is in flight.
    const answer = new Uint8Array(64);
    const read = await conn.read(answer);
    assert.match(new TextDecoder().decode(answer.subarray(0, read ?? 0)), /^HTTP\/1\.1 100 /);
    await conn.write(new TextEncoder().encode('{"body":'));
    broker.child.kill("SIGTERM");
    while (!broker.output().includes("SIGTERM, shutting down")) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // Later than a launcher's copy of the first would come (sameStopRequestMs), well within the
    // 2 s the stop waits for the request in flight.
    await new Promise((resolve) => setTimeout(resolve, 2 * sameStopRequestMs));
    broker.child.kill("SIGINT");
    const { code } = await broker.child.status;
    const output = broker.output();
    assert.equal(code, failedStopExitCode, output);
    assert.match(output, /cmqd n1: SIGINT again: exiting now, the graceful stop unfinished/);
    assert.doesNotMatch(output, /cmqd n1: stopped/);
    // As after a crash: the lock went with the process, and the restart serves.
    const again = await startBroker({ dataDir });
    assert.equal(await again.stop(), 0, again.output());
  } finally {
    conn?.close();
    await broker.kill();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("one Ctrl-C to `deno task start` stops the broker gracefully, though the launcher passes it on", async () => {
  // A terminal's Ctrl-C reaches every process of the group, and `deno task` (so `npm start`)
  // also passes the signal on to its child: the broker gets it twice within milliseconds. Taken
  // as an operator's second Ctrl-C, it cut the graceful stop short (status 1).
  const dataDir = await Deno.makeTempDir({ prefix: "cmqd-task-stop-" });
  const port = freePort();
  // In a process group of its own, as a terminal's foreground job is (setsid: the task leads it).
  const task = new Deno.Command("setsid", {
    args: [Deno.execPath(), "task", "start", "--port", String(port), "--data-dir", dataDir],
    cwd: new URL("../../", import.meta.url),
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  const decoder = new TextDecoder();
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) output += decoder.decode(chunk, { stream: true });
  };
  const reading = Promise.all([collect(task.stdout), collect(task.stderr)]);
  try {
    const started = Date.now();
    while (!output.includes("serving http://")) {
      if (Date.now() - started > 60_000) throw new Error(`no serving line:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    Deno.kill(-task.pid, "SIGINT"); // the whole group, as a terminal's Ctrl-C
    await task.status;
    await reading;
    assert.match(output, /SIGINT, shutting down[\s\S]*cmqd n1: stopped/);
    assert.doesNotMatch(output, /SIGINT again/);
  } finally {
    try {
      Deno.kill(-task.pid, "SIGKILL");
    } catch {
      // already ended
    }
    await Deno.remove(dataDir, { recursive: true });
  }
});
