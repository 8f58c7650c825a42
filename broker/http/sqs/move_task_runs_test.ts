/**
 * The loops of message move tasks (`move_task_runs.ts`) over a scripted service: batch sizes,
 * yielding between batches, the pace on the clock and timers given, failures, and `close()`
 * leaving nothing running.
 */
import assert from "node:assert/strict";
import { BrokerError, type QueueService } from "./broker_deps.ts";
import {
  type MoveTask,
  type MoveTaskLimits,
  MoveTasks,
  type MoveTaskTime,
} from "./move_task_runs.ts";
import { SqsError } from "./errors.ts";
import { ManualClock } from "../../replication/testing/mod.ts";

type Redrive = QueueService["redrive"];

/** MoveTasks over a service whose only method is `redrive`; `logged` collects logError calls. */
function tasksOver(redrive: Redrive, limits: MoveTaskLimits = {}, time?: MoveTaskTime) {
  const logged: unknown[] = [];
  const reported: string[] = [];
  const service = { redrive } as unknown as QueueService;
  const tasks = new MoveTasks(
    {
      service,
      logError: (_message, error) => logged.push(error),
      report: (line) => reported.push(line),
      time,
    },
    limits,
  );
  return { tasks, logged, reported };
}

let handles = 0;

function newTask(toMove: number, rate?: number): MoveTask {
  return {
    handle: `h${handles++}`,
    source: { sqsName: "dead", name: "dead", fifo: false },
    sourceArn: "arn:aws:sqs:us-east-1:000000000000:dead",
    rate,
    status: "RUNNING",
    moved: 0,
    toMove,
    startedAt: Date.now(),
  };
}

/** Resolves once the task has ended (polled on timers, as a client would list it). */
async function ended(task: MoveTask): Promise<void> {
  while (task.status === "RUNNING" || task.status === "CANCELLING") {
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

Deno.test("batches ask for at most batchMessages and at most the rate, the last for the rest", async () => {
  const asked: number[] = [];
  const redrive: Redrive = (_name, request) => {
    asked.push(request.maxMessages!);
    return Promise.resolve({ moved: request.maxMessages! });
  };
  const { tasks } = tasksOver(redrive, { batchMessages: 4 });
  const unpaced = newTask(10);
  tasks.start(unpaced);
  await ended(unpaced);
  assert.deepEqual(asked, [4, 4, 2]);
  assert.deepEqual([unpaced.status, unpaced.moved], ["COMPLETED", 10]);
  asked.length = 0;
  // 500 a second: batches of at most 500, each 2 ms after the one before at the earliest.
  const paced = newTask(5, 500);
  const { tasks: slower } = tasksOver(redrive, { batchMessages: 2 });
  slower.start(paced);
  await ended(paced);
  assert.deepEqual(asked, [2, 2, 1]);
  assert.deepEqual([paced.status, paced.moved], ["COMPLETED", 5]);
});

/** Lets every promise chain run on (one turn of the event loop: the fake clock stays put). */
function turn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

Deno.test("the pace follows the clock and timers given: each batch starts when they say", async () => {
  const clock = new ManualClock(0);
  const gates: { asked: number; gate: PromiseWithResolvers<{ moved: number }> }[] = [];
  const redrive: Redrive = (_name, request) => {
    gates.push({ asked: request.maxMessages!, gate: Promise.withResolvers() });
    return gates.at(-1)!.gate.promise;
  };
  const { tasks } = tasksOver(redrive, { batchMessages: 10 }, { clock, timers: clock });
  const asked = () => gates.map((each) => each.asked);
  // 2 a second: batches of 2, each a second after the one before started.
  const task = newTask(5, 2);
  tasks.start(task);
  assert.deepEqual(asked(), [2], "the first at once");
  gates[0].gate.resolve({ moved: 2 });
  await turn();
  assert.equal(clock.timerCount, 1, "waiting on the timers given");
  clock.advance(999);
  await turn();
  assert.deepEqual(asked(), [2], "not before its second");
  clock.advance(1);
  await turn();
  assert.deepEqual(asked(), [2, 2]);
  // A batch that takes 400 ms: the next starts 600 ms after it ends.
  clock.advance(400);
  gates[1].gate.resolve({ moved: 2 });
  await turn();
  clock.advance(599);
  await turn();
  assert.deepEqual(asked(), [2, 2]);
  clock.advance(1);
  await turn();
  assert.deepEqual(asked(), [2, 2, 1]);
  gates[2].gate.resolve({ moved: 1 });
  await ended(task);
  assert.deepEqual([task.status, task.moved, clock.timerCount], ["COMPLETED", 5, 0]);
});

Deno.test("a refused batch is retried after its Retry-After on the clock given; unpaced batches wait a 0 ms timer", async () => {
  const clock = new ManualClock(0);
  let calls = 0;
  const redrive: Redrive = (_name, request) => {
    calls++;
    if (calls === 1) {
      return Promise.reject(new BrokerError("NotReady", "busy", { retryAfterSeconds: 3 }));
    }
    return Promise.resolve({ moved: request.maxMessages! });
  };
  const { tasks } = tasksOver(redrive, { batchMessages: 1 }, { clock, timers: clock });
  const task = newTask(3);
  tasks.start(task);
  await turn();
  clock.advance(2_999);
  await turn();
  assert.equal(calls, 1, "refused, waiting its Retry-After");
  clock.advance(1);
  await turn();
  assert.deepEqual([calls, task.moved], [2, 1]);
  // Without a rate the next batch waits a 0 ms timer: it comes when the timers say.
  await turn();
  assert.equal(calls, 2, "the timers given have not run");
  clock.advance(0);
  await turn();
  assert.equal(calls, 3);
  clock.advance(0);
  await ended(task);
  assert.deepEqual([task.status, task.moved, calls], ["COMPLETED", 3, 4]);
});

Deno.test("a batch that moves fewer than it asked ends the task COMPLETED", async () => {
  const { tasks } = tasksOver(() => Promise.resolve({ moved: 1 }), { batchMessages: 3 });
  const task = newTask(10);
  tasks.start(task);
  await ended(task);
  assert.deepEqual([task.status, task.moved], ["COMPLETED", 1]);
  // A source with nothing to move completes at once, without a batch.
  const empty = newTask(0);
  tasks.start(empty);
  assert.equal(empty.status, "COMPLETED");
});

Deno.test("without a rate, the loop lets the event loop turn between batches", async () => {
  const marks: string[] = [];
  // A service that answers at once (in a microtask): only the loop's own yield lets others in.
  const redrive: Redrive = () => {
    marks.push("batch");
    return Promise.resolve({ moved: 1 });
  };
  const { tasks } = tasksOver(redrive, { batchMessages: 1 });
  const other = new Promise<void>((resolve) =>
    setTimeout(() => {
      marks.push("other");
      resolve();
    }, 0)
  );
  const task = newTask(3);
  tasks.start(task);
  await other;
  await ended(task);
  assert.deepEqual(marks, ["batch", "other", "batch", "batch"]);
});

Deno.test("a service refusal ends the task FAILED with its query code; anything else is reported", async () => {
  const refused = tasksOver(() => Promise.reject(new BrokerError("QueueNotFound", "gone")));
  const task = newTask(5);
  refused.tasks.start(task);
  await ended(task);
  assert.deepEqual([task.status, task.failureReason], [
    "FAILED",
    "AWS.SimpleQueueService.NonExistentQueue",
  ]);
  assert.deepEqual(refused.logged, []);
  const bug = new TypeError("a bug");
  const broken = tasksOver(() => Promise.reject(bug));
  const other = newTask(5);
  broken.tasks.start(other);
  await ended(other);
  assert.deepEqual([other.status, other.failureReason], ["FAILED", "InternalFailure"]);
  assert.deepEqual(broken.logged, [bug]);
});

Deno.test("permissions are checked again before each batch: once refused, the task is FAILED AccessDenied", async () => {
  let batches = 0;
  const { tasks, logged } = tasksOver(() => {
    batches++;
    return Promise.resolve({ moved: 1 });
  }, { batchMessages: 1 });
  let allowed = true;
  let checks = 0;
  const checkPermissions = () => {
    checks++;
    if (!allowed) throw new SqsError("AccessDenied", "the key lost queue:dead:manage");
  };
  const task = newTask(5, 500);
  tasks.start(task, checkPermissions);
  while (task.moved < 2) await new Promise((resolve) => setTimeout(resolve, 1));
  allowed = false;
  await ended(task);
  assert.deepEqual([task.status, task.failureReason], ["FAILED", "AccessDenied"]);
  assert.equal(task.moved, batches, "no batch after the refused check");
  assert.ok(task.moved >= 2 && task.moved < 5, `moved ${task.moved}`);
  assert.equal(checks, batches + 1, "one check before each batch");
  assert.deepEqual(logged, []);
});

Deno.test("the replica's refusals are retried after their Retry-After, refusalsMax in a row", async () => {
  const refusal = (code: "NoLeader" | "NotReady", message: string) =>
    new BrokerError(code, message, { retryAfterSeconds: 0 });
  // Refused twice (a hand-off under way), then served: the task goes on.
  let calls = 0;
  const flaky = tasksOver((_name, request) => {
    calls++;
    if (calls === 2 || calls === 3) {
      return Promise.reject(refusal("NotReady", "handing over to n2"));
    }
    return Promise.resolve({ moved: request.maxMessages! });
  }, { batchMessages: 2, refusalsMax: 2 });
  const task = newTask(5);
  flaky.tasks.start(task);
  await ended(task);
  assert.deepEqual([task.status, task.moved, calls], ["COMPLETED", 5, 5]);
  // Refused on and on (this node no longer leads): FAILED after refusalsMax retries, saying why.
  let refused = 0;
  const follower = tasksOver(() => {
    refused++;
    return Promise.reject(refusal("NoLeader", "not the leader; the leader is n2"));
  }, { refusalsMax: 2 });
  const lost = newTask(5);
  follower.tasks.start(lost);
  await ended(lost);
  assert.equal(lost.status, "FAILED");
  assert.equal(refused, 3);
  // In SQS's words; the replica's own (which node leads) only in the node's log.
  assert.equal(
    lost.failureReason,
    "ServiceUnavailable: The task stopped on a temporary failure of the server. " +
      "Start a new task to move the remaining messages.",
  );
  assert.equal(follower.reported.length, 1);
  assert.match(follower.reported[0], /NoLeader: not the leader; the leader is n2/);
  // A refusal that is no replica's is not retried.
  let gone = 0;
  const deleted = tasksOver(() => {
    gone++;
    return Promise.reject(new BrokerError("QueueNotFound", "gone"));
  }, { refusalsMax: 2 });
  const other = newTask(5);
  deleted.tasks.start(other);
  await ended(other);
  assert.deepEqual([other.status, gone], ["FAILED", 1]);
});

Deno.test("a task cancelled while it waits to retry a refused batch ends CANCELLED at once", async () => {
  const { tasks } = tasksOver(
    () =>
      Promise.reject(new BrokerError("NoLeader", "no leader is known", { retryAfterSeconds: 60 })),
  );
  const task = newTask(5);
  tasks.start(task);
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(task.status, "RUNNING");
  tasks.cancel(task);
  assert.equal(task.status, "CANCELLED");
  await tasks.close();
});

Deno.test("cancel between batches ends the task at once; with a batch in flight, after it", async () => {
  const gates: PromiseWithResolvers<{ moved: number }>[] = [];
  const redrive: Redrive = () => {
    gates.push(Promise.withResolvers());
    return gates.at(-1)!.promise;
  };
  const { tasks } = tasksOver(redrive, { batchMessages: 1 });
  const task = newTask(10, 1);
  tasks.start(task);
  assert.equal(gates.length, 1, "the first batch starts at once");
  assert.equal(tasks.cancel(task), 0);
  assert.equal(task.status, "CANCELLING");
  assert.equal(tasks.active(task.source), task);
  gates[0].resolve({ moved: 1 });
  await ended(task);
  assert.deepEqual([task.status, task.moved, gates.length], ["CANCELLED", 1, 1]);
  assert.equal(tasks.active(task.source), undefined);
  // Paused before its second batch (a second at 1 a second): cancelled at once.
  const paused = newTask(10, 1);
  tasks.start(paused);
  gates[1].resolve({ moved: 1 });
  while (paused.moved === 0) await new Promise((resolve) => setTimeout(resolve, 1));
  assert.equal(tasks.cancel(paused), 1);
  assert.equal(paused.status, "CANCELLED");
  await tasks.close();
  assert.equal(gates.length, 2);
});

Deno.test("close() stops every task, waits for the batch in flight, then refuses new tasks", async () => {
  const gate = Promise.withResolvers<{ moved: number }>();
  let calls = 0;
  const redrive: Redrive = () => {
    calls++;
    return calls === 1 ? gate.promise : Promise.resolve({ moved: 1 });
  };
  const { tasks } = tasksOver(redrive, { batchMessages: 1 });
  const inFlight = newTask(5);
  tasks.start(inFlight);
  const paused = { ...newTask(5, 1), source: { sqsName: "other", name: "other", fifo: false } };
  tasks.start(paused);
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(paused.moved, 1);
  let closed = false;
  const closing = tasks.close().then(() => closed = true);
  assert.equal(inFlight.status, "CANCELLING");
  assert.equal(paused.status, "CANCELLED");
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(closed, false, "the batch in flight is waited for");
  gate.resolve({ moved: 1 });
  await closing;
  assert.deepEqual([inFlight.status, inFlight.moved], ["CANCELLED", 1]);
  assert.equal(calls, 2);
  assert.throws(
    () => tasks.start(newTask(1)),
    (error) => error instanceof SqsError && error.code === "ServiceUnavailable",
  );
});

Deno.test("a close with a batch in flight: the stopping node's refusal of it ends the task CANCELLED, any other failure FAILED", async () => {
  /** The task's one batch in flight, the door closed under it, and how that batch ends. */
  const closedWith = async (failure: Error) => {
    const gate = Promise.withResolvers<{ moved: number }>();
    // refusalsMax 0: any refusal fails a task that runs; a close's refusal does not.
    const { tasks, logged } = tasksOver(() => gate.promise, { batchMessages: 1, refusalsMax: 0 });
    const task = newTask(5);
    tasks.start(task);
    const closing = tasks.close();
    assert.equal(task.status, "CANCELLING");
    gate.reject(failure);
    await closing;
    assert.deepEqual(logged, []);
    return [task.status, task.moved, task.failureReason];
  };
  // The replica's close abandons the proposals it holds; the node's hand-off before it can leave
  // the batch to a new leader.
  const abandoned = new BrokerError(
    "NotReady",
    "node stopped; the outcome of this write is unknown",
    {
      retryAfterSeconds: 1,
    },
  );
  assert.deepEqual(await closedWith(abandoned), ["CANCELLED", 0, undefined]);
  const handedOff = new BrokerError("NoLeader", "not the leader; the leader is n2", {
    retryAfterSeconds: 1,
  });
  assert.deepEqual(await closedWith(handedOff), ["CANCELLED", 0, undefined]);
  // Not the close's doing: FAILED, as after a cancel.
  assert.deepEqual(await closedWith(new BrokerError("QueueNotFound", "gone")), [
    "FAILED",
    0,
    "AWS.SimpleQueueService.NonExistentQueue",
  ]);
  const removed = await closedWith(new BrokerError("NodeRemoved", "n1 was removed"));
  assert.deepEqual(removed.slice(0, 2), ["FAILED", 0]);
});
