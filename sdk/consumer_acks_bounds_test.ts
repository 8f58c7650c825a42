/**
 * How long the consumer's explicit deletes and lock-change calls may go unanswered, against the
 * client's own `timeoutMs`, on a fake clock (no real waiting, no timing assertions).
 */
import assert from "node:assert/strict";
import { FakeQueue } from "./_fake_queue.ts";
import { Acknowledger, type ConsumerClient, type VisibilityOutcome } from "./consumer_acks.ts";
import { CmqdClient } from "./client.ts";
import { CmqdError } from "./errors.ts";

/**
 * A fake clock for `setTimeout`/`clearTimeout` while `use` runs: nothing fires until `advance`
 * moves the clock (no real waiting). `settle` lets promises run (on a real timer).
 */
async function withFakeTimers(
  use: (clock: { advance(ms: number): Promise<void>; settle(): Promise<void> }) => Promise<void>,
): Promise<void> {
  const real = { set: globalThis.setTimeout, clear: globalThis.clearTimeout };
  let now = 0;
  let nextId = 1;
  const timers = new Map<number, { at: number; callback: () => void }>();
  const settle = async () => {
    for (let i = 0; i < 5; i++) await new Promise((resolve) => real.set(resolve, 0));
  };
  globalThis.setTimeout = ((callback: () => void, delayMs = 0) => {
    const id = nextId++;
    timers.set(id, { at: now + Math.max(0, delayMs), callback });
    return id;
  }) as unknown as typeof setTimeout;
  globalThis.clearTimeout = ((id: number) => void timers.delete(id)) as typeof clearTimeout;
  const advance = async (ms: number) => {
    const until = now + ms;
    for (;;) {
      await settle();
      const due = [...timers].filter(([, timer]) => timer.at <= until)
        .sort(([, x], [, y]) => x.at - y.at)[0];
      if (due === undefined) break;
      timers.delete(due[0]);
      now = due[1].at;
      due[1].callback();
    }
    now = until;
    await settle();
  };
  try {
    await use({ advance, settle });
  } finally {
    globalThis.setTimeout = real.set;
    globalThis.clearTimeout = real.clear;
  }
}

Deno.test("an explicit delete waits as long as the client's timeoutMs when that is above 30 s: answered at 60 s it counts", async () => {
  const queue = new FakeQueue();
  queue.send("a");
  const [a] = (await queue.receiveMessages("q")).messages;
  await withFakeTimers(async (clock) => {
    // A broker that answers the delete after 60 s, to a client told to wait 120 s for it.
    let answer: ((response: Response) => void) | undefined;
    const client = new CmqdClient({
      baseUrl: "http://127.0.0.1:1",
      timeoutMs: 120_000,
      fetch: () => new Promise<Response>((resolve) => answer = resolve),
    });
    const reports: unknown[] = [];
    let deleted = 0;
    const acks = new Acknowledger({
      client,
      queue: "q",
      deleteLingerMs: 10,
      report: (error) => reports.push(error),
      onDeleted: (count) => deleted += count,
    });
    acks.delete(a);
    await clock.advance(10);
    assert.ok(answer !== undefined, "the explicit delete is on its way");
    await clock.advance(60_000);
    assert.deepEqual(reports, [], "not given up at 30 s");
    answer(Response.json({ deleted: 1, failures: [] }));
    await clock.settle();
    await acks.flush();
    assert.equal(deleted, 1);
    assert.deepEqual(reports, []);
    client.close();
  });
});

Deno.test("an explicit delete that never answers is given up at the larger of 30 s and the client's timeoutMs", async () => {
  const queue = new FakeQueue();
  queue.send("a");
  const [a] = (await queue.receiveMessages("q")).messages;
  // The client's timeoutMs (a custom client may have none) → when the delete is given up.
  const cases: [number | undefined, number][] = [
    [undefined, 30_000],
    [Infinity, 30_000],
    [5_000, 30_000],
    [120_000, 120_000],
    // Beyond what a timer takes (a longer delay would fire at once): the timer's longest.
    [1e12, 2 ** 31 - 1],
  ];
  for (const [timeoutMs, givenUpAtMs] of cases) {
    await withFakeTimers(async (clock) => {
      const client: ConsumerClient = {
        receiveMessages: queue.receiveMessages.bind(queue),
        changeVisibility: queue.changeVisibility.bind(queue),
        // Never settles, its signal notwithstanding.
        deleteMessages: () => new Promise(() => {}),
        ...(timeoutMs === undefined ? {} : { timeoutMs }),
      };
      const reports: unknown[] = [];
      const acks = new Acknowledger({
        client,
        queue: "q",
        deleteLingerMs: 10,
        report: (error) => reports.push(error),
        onDeleted: () => {},
      });
      acks.delete(a);
      await clock.advance(10);
      await clock.advance(givenUpAtMs - 1);
      assert.deepEqual(reports, [], `timeoutMs ${timeoutMs}: not given up before ${givenUpAtMs}`);
      await clock.advance(1);
      assert.equal(reports.length, 1, `timeoutMs ${timeoutMs}: given up at ${givenUpAtMs} ms`);
      const [error] = reports as unknown[];
      assert.ok(error instanceof CmqdError);
      assert.equal(error.code, "Timeout");
      assert.match(error.message, new RegExp(`no answer to a delete within ${givenUpAtMs} ms`));
      await acks.flush();
    });
  }
});

Deno.test("a lock change that never answers is given up at the larger of 30 s and the client's timeoutMs, and never after half of its lock's time left", async () => {
  const queue = new FakeQueue();
  queue.send("a");
  const [a] = (await queue.receiveMessages("q")).messages;
  // The client's timeoutMs (a custom client may have none), the time left on the lock (none
  // known, or 12 h, or 2 min for a renewal) → when the change is given up, and what it says.
  const cases: [number | undefined, number | undefined, boolean, number, string][] = [
    [undefined, undefined, false, 30_000, "30000 ms"],
    [Infinity, undefined, false, 30_000, "30000 ms"],
    [5_000, 12 * 3600_000, false, 30_000, "30000 ms"],
    [120_000, undefined, false, 120_000, "120000 ms"],
    [120_000, 12 * 3600_000, true, 120_000, "120000 ms"],
    // Beyond what a timer takes (a longer delay would fire at once): the timer's longest.
    [1e12, undefined, false, 2 ** 31 - 1, `${2 ** 31 - 1} ms`],
    // Half of the lock's time left comes first: the renewal is given up with a minute to spare,
    // time to renew again before the lock could end, however long the client would wait.
    [600_000, 120_000, true, 60_000, "half of the time left"],
  ];
  for (const [timeoutMs, lockLeftMs, renewal, givenUpAtMs, within] of cases) {
    const label = `timeoutMs ${timeoutMs}, lock ${lockLeftMs}`;
    await withFakeTimers(async (clock) => {
      const signals: AbortSignal[] = [];
      const client: ConsumerClient = {
        receiveMessages: queue.receiveMessages.bind(queue),
        deleteMessages: queue.deleteMessages.bind(queue),
        // Never settles, its signal notwithstanding.
        changeVisibility: (_queue, _entries, options) => {
          if (options?.signal !== undefined) signals.push(options.signal);
          return new Promise(() => {});
        },
        ...(timeoutMs === undefined ? {} : { timeoutMs }),
      };
      const acks = new Acknowledger({
        client,
        queue: "q",
        deleteLingerMs: 10,
        report: () => {},
        onDeleted: () => {},
      });
      // The half-lock bound is measured with the real clock (a few ms pass): a second's margin.
      const deadline = lockLeftMs === undefined ? undefined : Date.now() + lockLeftMs;
      const record: { outcome?: VisibilityOutcome } = {};
      void acks.changeVisibility(a, renewal ? 30 : 0, deadline, renewal)
        .then((outcome) => record.outcome = outcome);
      await clock.advance(givenUpAtMs - 1_000);
      assert.equal(record.outcome, undefined, `${label}: not given up before ${givenUpAtMs}`);
      assert.equal(signals[0]?.aborted, false, label);
      await clock.advance(1_000);
      const outcome = record.outcome as VisibilityOutcome | undefined;
      assert.ok(outcome !== undefined && !outcome.ok, `${label}: given up at ${givenUpAtMs} ms`);
      assert.equal(outcome.givenUp, true, label);
      assert.ok(outcome.error instanceof CmqdError);
      assert.match(
        outcome.error.message,
        new RegExp(`no answer to a lock change within ${within}`),
      );
      assert.equal(signals[0].aborted, true, `${label}: aborted through its signal`);
      await acks.flush();
    });
  }
});

Deno.test("a renewal of a long lock waits as long as the client's timeoutMs when that is above 30 s: answered at 60 s it counts", async () => {
  const queue = new FakeQueue();
  queue.send("a");
  const [a] = (await queue.receiveMessages("q")).messages;
  await withFakeTimers(async (clock) => {
    // A broker that answers the renewal after 60 s, to a client told to wait 120 s for it.
    let answer: ((response: Response) => void) | undefined;
    const client = new CmqdClient({
      baseUrl: "http://127.0.0.1:1",
      timeoutMs: 120_000,
      fetch: () => new Promise<Response>((resolve) => answer = resolve),
    });
    const acks = new Acknowledger({
      client,
      queue: "q",
      deleteLingerMs: 10,
      report: () => {},
      onDeleted: () => {},
    });
    const record: { outcome?: VisibilityOutcome } = {};
    void acks.changeVisibility(a, 43_200, Date.now() + 12 * 3600_000, true)
      .then((outcome) => record.outcome = outcome);
    await clock.advance(10);
    assert.ok(answer !== undefined, "the renewal is on its way");
    await clock.advance(60_000);
    assert.equal(record.outcome, undefined, "not given up at 30 s");
    answer(
      Response.json({ entries: [{ receiptHandle: a.receiptHandle, visibleAt: 1 }], failures: [] }),
    );
    await clock.settle();
    await acks.flush();
    assert.equal((record.outcome as VisibilityOutcome | undefined)?.ok, true);
    client.close();
  });
});
