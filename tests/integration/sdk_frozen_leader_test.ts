/**
 * An SDK client talking straight to a leader that freezes (SIGSTOP: the kernel still accepts
 * its connections, nothing answers) does not wait out its 30 s `timeoutMs`: after the default
 * `headTimeoutMs` a read and a deduplicated send go to the new leader, and a send without a
 * `dedupId` fails fast as "may or may not have taken effect" (it is never sent twice). Three
 * real `main.ts` processes on loopback, from `startTestBroker`.
 *
 * No timing assertion: each call runs under a 25 s signal, below the clients' 30 s timeout, so
 * a client that waits out the frozen node ends in `Aborted` and fails the test.
 */
import assert from "node:assert/strict";
import { CmqdError } from "../../sdk/errors.ts";
import { startTestBroker } from "../../sdk/testing.ts";

const timeoutMs = 30_000;
const callBoundMs = 25_000;

Deno.test({
  name: "SDK calls to a SIGSTOPped leader finish on another node or fail fast, never twice",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const broker = await startTestBroker({ nodes: 3 });
    let frozenPid: number | undefined;
    try {
      // Enough attempts to ride out an election's 503s on a loaded machine.
      const options = { timeoutMs, retry: { attemptsMax: 10 } };
      const reader = broker.newClient(options);
      const writer = broker.newClient(options);
      await reader.createQueue("jobs");
      await writer.getQueue("jobs");
      const leaderUrl = reader.leaderUrl;
      assert.ok(
        leaderUrl !== undefined && writer.leaderUrl === leaderUrl,
        "both follow the leader",
      );
      const leader = broker.nodes.find((node) => node.url === leaderUrl);
      assert.ok(leader !== undefined, `${leaderUrl} is one of ${broker.urls}`);

      frozenPid = leader.pid;
      Deno.kill(frozenPid, "SIGSTOP");
      const [read, unsafeSend] = await Promise.allSettled([
        reader.getQueue("jobs", { signal: AbortSignal.timeout(callBoundMs) }),
        writer.sendMessages("jobs", [{ body: "once" }], {
          signal: AbortSignal.timeout(callBoundMs),
        }),
      ]);

      assert.equal(read.status, "fulfilled", String((read as PromiseRejectedResult).reason));
      assert.notEqual(reader.leaderUrl, leaderUrl, "answered by the new leader's group");
      assert.equal(unsafeSend.status, "rejected", "a send without dedupId is not moved on");
      const error = (unsafeSend as PromiseRejectedResult).reason;
      assert.ok(error instanceof CmqdError, String(error));
      assert.equal(error.code, "Timeout", error.message);
      assert.match(error.message, /may or may not have taken effect/);

      // The writer now avoids the frozen node: a deduplicated send goes through elsewhere.
      const sent = await writer.sendMessages("jobs", [{ body: "safe", dedupId: "safe-1" }], {
        signal: AbortSignal.timeout(callBoundMs),
      });
      assert.equal(sent.messages.length, 1);
      const { messages } = await reader.receiveMessages(
        "jobs",
        { maxMessages: 10, waitSeconds: 1 },
        {
          signal: AbortSignal.timeout(callBoundMs),
        },
      );
      assert.deepEqual(messages.map((message) => message.body), ["safe"]);
    } catch (error) {
      throw new Error(`${error}\n--- cmqd output ---\n${broker.output().slice(-4000)}`, {
        cause: error,
      });
    } finally {
      if (frozenPid !== undefined) Deno.kill(frozenPid, "SIGCONT");
      await broker.stop();
    }
  },
});
