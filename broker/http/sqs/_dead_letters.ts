/**
 * Fixtures of the dead-letter tests through the real `@aws-sdk/client-sqs`
 * (`dead_letters_sdk_test.ts`, `move_task_runs_sdk_test.ts`): queues with a RedrivePolicy,
 * messages dead-lettered through it, the message move tasks as ListMessageMoveTasks shows them,
 * and a service whose redrive waits at a gate.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  type ListMessageMoveTasksResultEntry,
} from "./_npm_test_deps.ts";
import { startDoor } from "./_test_server.ts";
import type { QueueService } from "../../service/mod.ts";

export type Door = ReturnType<typeof startDoor>;

export const arnOf = (sqsName: string) => `arn:aws:sqs:us-east-1:000000000000:${sqsName}`;

export async function createQueue(
  door: Door,
  QueueName: string,
  deadLetter?: string,
): Promise<string> {
  const Attributes = deadLetter === undefined ? undefined : {
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: arnOf(deadLetter), maxReceiveCount: 1 }),
  };
  const { QueueUrl } = await door.client.send(new CreateQueueCommand({ QueueName, Attributes }));
  return QueueUrl!;
}

/** Sends `bodies` to the cmqd queue `source` and has its RedrivePolicy move them (receive twice). */
export async function deadLetter(door: Door, source: string, bodies: string[]): Promise<void> {
  // SQS's queues take bodies of 1 MiB: a receive takes at most 64 of them.
  if (bodies.length > 64) {
    for (let at = 0; at < bodies.length; at += 64) {
      await deadLetter(door, source, bodies.slice(at, at + 64));
    }
    return;
  }
  await door.broker.sendMessages(source, bodies.map((body) => ({ body })));
  const { messages } = await door.broker.receiveMessages(source, { maxMessages: 256 });
  assert.equal(messages.length, bodies.length);
  await door.broker.changeVisibility(
    source,
    messages.map(({ receiptHandle }) => ({ receiptHandle, visibilityTimeoutSeconds: 0 })),
  );
  // maxReceiveCount 1: the next receive moves them to the dead-letter queue.
  const again = await door.broker.receiveMessages(source, { maxMessages: 256 });
  assert.equal(again.messages.length, 0);
}

export async function visible(door: Door, QueueUrl: string): Promise<number> {
  const { Attributes } = await door.client.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["ApproximateNumberOfMessages"] }),
  );
  return Number(Attributes!.ApproximateNumberOfMessages);
}

/** The newest task of `SourceArn`, as ListMessageMoveTasks shows it. */
export async function newestTask(
  door: Door,
  SourceArn: string,
): Promise<ListMessageMoveTasksResultEntry> {
  const { Results } = await door.client.send(new ListMessageMoveTasksCommand({ SourceArn }));
  assert.ok(Results !== undefined && Results.length > 0, `no task of ${SourceArn}`);
  return Results[0];
}

/** Polls the newest task of `SourceArn` (every 20 ms, for at most 20 s) until `done` holds. */
export async function taskUntil(
  door: Door,
  SourceArn: string,
  done: (task: ListMessageMoveTasksResultEntry) => boolean,
): Promise<ListMessageMoveTasksResultEntry> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const task = await newestTask(door, SourceArn);
    if (done(task)) return task;
    assert.ok(Date.now() < deadline, `waited 20 s for the task: ${JSON.stringify(task)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The newest task of `SourceArn` once it has ended (tasks run in the background). */
export function endedTask(door: Door, SourceArn: string): Promise<ListMessageMoveTasksResultEntry> {
  return taskUntil(door, SourceArn, (task) => !["RUNNING", "CANCELLING"].includes(task.Status!));
}

/** A service whose redrive waits for `open` (and tells `entered` it was called). */
export function gatedRedrive(
  service: QueueService,
  gate: { entered: () => void; open: Promise<void> },
) {
  return new Proxy(service, {
    get(target, property) {
      if (property === "redrive") {
        return async (...args: Parameters<QueueService["redrive"]>) => {
          gate.entered();
          await gate.open;
          return await target.redrive(...args);
        };
      }
      const value = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
