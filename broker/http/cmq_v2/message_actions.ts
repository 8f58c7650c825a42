/**
 * CMQ's message actions: SendMessage, BatchSendMessage, ReceiveMessage, BatchReceiveMessage,
 * DeleteMessage, BatchDeleteMessage.
 *
 * CMQ's limits, narrower than cmqd's: at most 16 entries per batch, `numOfMsg` 1–16. A receive
 * takes the queue's visibilityTimeout (CMQ has no per-receive lock time) and waits
 * `pollingWaitSeconds` (default: the queue's); an empty answer is code 7000 `(10200)`.
 *
 * @module
 */
import { type ActionContext, type CmqAction, unixSeconds } from "./action_types.ts";
import { cmqCode, CmqError, handleFailureCode, moduleCode } from "./errors.ts";
import {
  clampedInteger,
  type CmqParams,
  numberedList,
  optionalInteger,
  requiredInteger,
  requiredText,
} from "./params.ts";
import { messageLimits, type ReceivedMessage } from "./deps.ts";

/** CMQ's batch size: entries of a batch send or delete, `numOfMsg` of a batch receive. */
export const batchEntriesMax = 16;

/**
 * A receive's `pollingWaitSeconds`: CMQ documents 0–30, but old Java SDKs send 30000 and CMQ
 * took it, so longer waits are cut to 30 rather than refused.
 */
const pollingWaitRange = messageLimits.waitSeconds;

function delaySecondsOf(params: CmqParams): number | undefined {
  return optionalInteger(params, "delaySeconds", messageLimits.delaySeconds);
}

const sendMessage: CmqAction = {
  scope: "queue",
  permission: "send",
  async run({ service, params, queueName }) {
    const body = requiredText(params, "msgBody");
    const delaySeconds = delaySecondsOf(params);
    const sent = await service.sendMessages(queueName, [{ body, delaySeconds }]);
    return { msgId: sent.messages[0].id };
  },
};

const batchSendMessage: CmqAction = {
  scope: "queue",
  permission: "send",
  async run({ service, params, queueName }) {
    const bodies = numberedList(params, "msgBody", batchEntriesMax);
    // CMQ's delaySeconds applies to every message of the batch.
    const delaySeconds = delaySecondsOf(params);
    const sent = await service.sendMessages(
      queueName,
      bodies.map((body) => ({ body, delaySeconds })),
    );
    return { msgList: sent.messages.map((message) => ({ msgId: message.id })) };
  },
};

/** A received message under CMQ's field names, times in Unix seconds. */
function messageView(message: ReceivedMessage): Record<string, unknown> {
  return {
    msgBody: message.body,
    msgId: message.id,
    receiptHandle: message.receiptHandle,
    enqueueTime: unixSeconds(message.enqueuedAt),
    firstDequeueTime: unixSeconds(message.firstReceivedAt),
    nextVisibleTime: unixSeconds(message.visibleAt),
    dequeueCount: message.receiveCount,
  };
}

async function receive(context: ActionContext, maxMessages: number): Promise<ReceivedMessage[]> {
  const waitSeconds = clampedInteger(context.params, "pollingWaitSeconds", pollingWaitRange);
  const received = await context.service.receiveMessages(
    context.queueName,
    { maxMessages, waitSeconds },
    context,
    // One key's long polls hold at most a share of the receives a node parks.
    { keyId: context.keyId },
  );
  if (received.messages.length === 0) {
    throw new CmqError(cmqCode.noMessage, `(${moduleCode.noMessage})no message`);
  }
  return received.messages;
}

const receiveMessage: CmqAction = {
  scope: "queue",
  permission: "receive",
  longPoll: true,
  async run(context) {
    const [message] = await receive(context, 1);
    return messageView(message);
  },
};

const batchReceiveMessage: CmqAction = {
  scope: "queue",
  permission: "receive",
  longPoll: true,
  async run(context) {
    const count = requiredInteger(context.params, "numOfMsg", { min: 1, max: batchEntriesMax });
    const messages = await receive(context, count);
    return { msgInfoList: messages.map(messageView) };
  },
};

const deleteMessage: CmqAction = {
  scope: "queue",
  permission: "receive",
  async run({ service, params, queueName }) {
    const handle = requiredText(params, "receiptHandle");
    const result = await service.deleteMessages(queueName, [handle]);
    const [failure] = result.failures;
    if (failure !== undefined) throw new CmqError(handleFailureCode(failure.code), failure.message);
    return {};
  },
};

/**
 * BatchDeleteMessage. A handle given twice (`receiptHandle.1` and `.2` the same) is deleted once
 * and both succeed: the second names the delivery the first deleted in this very request, which
 * the engine would otherwise report as stale. Every `receiptHandle.n` that is not deleted gets
 * its own `errorList` entry.
 */
const batchDeleteMessage: CmqAction = {
  scope: "queue",
  permission: "receive",
  async run({ service, params, queueName }) {
    const handles = numberedList(params, "receiptHandle", batchEntriesMax);
    const unique = [...new Set(handles)];
    const result = await service.deleteMessages(queueName, unique);
    if (result.failures.length === 0) return {};
    const failureOf = new Map(result.failures.map((failure) => [failure.receiptHandle, failure]));
    const failed = handles.flatMap((handle) => failureOf.get(handle) ?? []);
    const allFailed = failed.length === handles.length;
    throw new CmqError(
      allFailed ? cmqCode.batchDeleteFailed : cmqCode.batchDeletePartlyFailed,
      `${failed.length} of ${handles.length} messages were not deleted; see errorList`,
      {
        errorList: failed.map((failure) => ({
          code: handleFailureCode(failure.code),
          message: failure.message,
          receiptHandle: failure.receiptHandle,
        })),
      },
    );
  },
};

/** The message actions by CMQ action name. */
export const messageActions: ReadonlyMap<string, CmqAction> = new Map([
  ["SendMessage", sendMessage],
  ["BatchSendMessage", batchSendMessage],
  ["ReceiveMessage", receiveMessage],
  ["BatchReceiveMessage", batchReceiveMessage],
  ["DeleteMessage", deleteMessage],
  ["BatchDeleteMessage", batchDeleteMessage],
]);
