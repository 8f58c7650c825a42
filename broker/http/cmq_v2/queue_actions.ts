/**
 * CMQ's queue management actions: CreateQueue, ListQueue, GetQueueAttributes,
 * SetQueueAttributes, DeleteQueue, RewindQueue.
 *
 * Attributes keep CMQ's names and ranges: `maxMsgHeapNum` (cmqd's maxBacklog, CMQ's
 * 1,000,000–1,000,000,000; SetQueueAttributes also takes back a smaller value the queue has,
 * see `readUpdate`), `pollingWaitSeconds`, `visibilityTimeout`, `maxMsgSize`,
 * `msgRetentionSeconds`, `rewindSeconds` (the others as in `limits.ts`). Times are Unix seconds.
 *
 * @module
 */
import { type CmqAction, unixSeconds } from "./action_types.ts";
import { cmqCode, CmqError, invalidParameter, moduleCode, toCmqError } from "./errors.ts";
import { type CmqParams, optionalInteger, outOfRange, requiredInteger } from "./params.ts";
import {
  BrokerError,
  type Queue,
  type QueueAttributesInput,
  queueLimits,
  type QueueService,
} from "./deps.ts";

/** CMQ's range of maxMsgHeapNum (narrower than cmqd's maxBacklog). */
export const maxMsgHeapNumRange = { min: 1_000_000, max: 1_000_000_000 } as const;

/** ListQueue paging: CMQ's default page of 20 and largest page of 50. */
export const listQueueLimit = { min: 1, max: 50, default: 20 } as const;

/** CMQ attribute parameter → cmqd attribute, with CMQ's range. */
const attributeParameters = [
  { name: "maxMsgHeapNum", attribute: "maxBacklog", range: maxMsgHeapNumRange },
  {
    name: "pollingWaitSeconds",
    attribute: "pollingWaitSeconds",
    range: queueLimits.pollingWaitSeconds,
  },
  {
    name: "visibilityTimeout",
    attribute: "visibilityTimeoutSeconds",
    range: queueLimits.visibilityTimeoutSeconds,
  },
  { name: "maxMsgSize", attribute: "maxMessageBytes", range: queueLimits.maxMessageBytes },
  {
    name: "msgRetentionSeconds",
    attribute: "retentionSeconds",
    range: queueLimits.retentionSeconds,
  },
  { name: "rewindSeconds", attribute: "rewindSeconds", range: queueLimits.rewindSeconds },
] as const;

/** The attributes a CreateQueue or SetQueueAttributes carries (absent ones are left out). */
function readAttributes(
  params: CmqParams,
  skip?: (typeof attributeParameters)[number]["name"],
): QueueAttributesInput {
  const attributes: QueueAttributesInput = {};
  for (const { name, attribute, range } of attributeParameters) {
    if (name === skip) continue;
    const value = optionalInteger(params, name, range);
    if (value !== undefined) attributes[attribute] = value;
  }
  return attributes;
}

/**
 * The attributes of a SetQueueAttributes. A queue made through the native API may have a
 * maxBacklog below CMQ's smallest maxMsgHeapNum; GetQueueAttributes reports it, and the SDKs
 * write every attribute they read back (Python, PHP: all of them; Java, C++: every one above
 * 0), so a maxMsgHeapNum equal to the queue's current value is taken as "unchanged" and left
 * out of the update (nothing writes it: a change made meanwhile through the native API stays).
 * Any other value below CMQ's range is refused as CMQ would.
 */
async function readUpdate(
  service: QueueService,
  params: CmqParams,
  queueName: string,
): Promise<QueueAttributesInput> {
  const range = maxMsgHeapNumRange;
  const heap = optionalInteger(params, "maxMsgHeapNum", {
    min: Number.MIN_SAFE_INTEGER,
    max: Number.MAX_SAFE_INTEGER,
  });
  const attributes = readAttributes(params, "maxMsgHeapNum");
  if (heap === undefined) return attributes;
  if (heap >= range.min && heap <= range.max) return { ...attributes, maxBacklog: heap };
  if (heap > range.max) throw outOfRange("maxMsgHeapNum", range);
  const current = (await service.getQueue(queueName)).maxBacklog;
  if (heap === current) return attributes;
  throw outOfRange("maxMsgHeapNum", range, current < range.min ? `, or ${current}` : "");
}

/** The settable attributes of `queue` under CMQ's names. */
function attributesOf(queue: Queue): Record<string, number> {
  return {
    maxMsgHeapNum: queue.maxBacklog,
    pollingWaitSeconds: queue.pollingWaitSeconds,
    visibilityTimeout: queue.visibilityTimeoutSeconds,
    maxMsgSize: queue.maxMessageBytes,
    msgRetentionSeconds: queue.retentionSeconds,
    rewindSeconds: queue.rewindSeconds,
  };
}

/** CMQ has no queue ids apart from names; the name is unique among live queues. */
function queueIdOf(name: string): string {
  return name;
}

function alreadyExists(queueName: string): CmqError {
  return new CmqError(cmqCode.queueAlreadyExists, `queue '${queueName}' already exists`);
}

/** True when `queueName` exists now (a local read: no log write). */
async function queueExists(service: QueueService, queueName: string): Promise<boolean> {
  try {
    await service.getQueue(queueName);
    return true;
  } catch (error) {
    if (error instanceof BrokerError && error.code === "QueueNotFound") return false;
    throw error;
  }
}

const createQueue: CmqAction = {
  scope: "queue",
  permission: "manage",
  async run({ service, params, queueName }) {
    const attributes = readAttributes(params);
    // CMQ applications often create their queues at every start and ignore 4460: answer that
    // from a read, without a replicated write for each start.
    if (await queueExists(service, queueName)) throw alreadyExists(queueName);
    const result = await service.createQueue(queueName, attributes).catch((error) => {
      throw inRewindTerms(error, params);
    });
    // cmqd's create is idempotent for identical attributes; CMQ refuses any existing name
    // (here: one created between the read and the write).
    if (!result.created) throw alreadyExists(queueName);
    return { queueId: queueIdOf(queueName) };
  },
};

const listQueue: CmqAction = {
  scope: "account",
  permission: "read",
  async run({ service, params }) {
    const searchWord = params.get("searchWord");
    if (searchWord !== undefined && searchWord.length > 64) {
      throw invalidParameter(
        moduleCode.outOfRange,
        "parameter searchWord value or length is out of range (at most 64 characters)",
      );
    }
    const offset = optionalInteger(params, "offset", { min: 0, max: Number.MAX_SAFE_INTEGER });
    const limit = optionalInteger(params, "limit", listQueueLimit) ?? listQueueLimit.default;
    const list = await service.listQueues({
      prefix: searchWord === "" ? undefined : searchWord,
      offset,
      limit,
    });
    return {
      totalCount: list.total,
      queueList: list.queues.map((queue) => ({
        queueId: queueIdOf(queue.name),
        queueName: queue.name,
      })),
    };
  },
};

const getQueueAttributes: CmqAction = {
  scope: "queue",
  permission: "read",
  async run({ service, queueName }) {
    const queue = await service.getQueue(queueName);
    return {
      queueName: queue.name,
      ...attributesOf(queue),
      activeMsgNum: queue.activeMessages,
      inactiveMsgNum: queue.inflightMessages,
      delayMsgNum: queue.delayedMessages,
      // Under both spellings: CMQ's documentation and its Python, PHP and C++ SDKs name the count
      // rewindmsgNum, its Java SDK reads rewindMsgNum.
      rewindMsgNum: queue.rewindableMessages,
      rewindmsgNum: queue.rewindableMessages,
      // The SDKs read these as integers (Java `getInt`): 0 stands for "no message".
      minMsgTime: queue.oldestMessageAt === null ? 0 : unixSeconds(queue.oldestMessageAt),
      createTime: unixSeconds(queue.createdAt),
      lastModifyTime: unixSeconds(queue.modifiedAt),
    };
  },
};

const setQueueAttributes: CmqAction = {
  scope: "queue",
  permission: "manage",
  async run({ service, params, queueName }) {
    const update = await readUpdate(service, params, queueName);
    const queue = await service.updateQueue(queueName, update).catch((error) => {
      throw inRewindTerms(error, params);
    });
    return attributesOf(queue);
  },
};

const deleteQueue: CmqAction = {
  scope: "queue",
  permission: "manage",
  async run({ service, queueName }) {
    await service.deleteQueue(queueName);
    return {};
  },
};

const rewindQueue: CmqAction = {
  scope: "queue",
  permission: "manage",
  async run({ service, params, queueName }) {
    const startSeconds = requiredInteger(params, "startConsumeTime", {
      min: 0,
      max: Math.floor(Number.MAX_SAFE_INTEGER / 1000),
    });
    try {
      // A time before the window rewinds from its start, as CMQ does ("the nearest rewindable
      // time point"): `int(now) - rewindSeconds` falls inside the window's first second.
      await service.rewind(queueName, { timestamp: startSeconds * 1000 }, { fromWindow: true });
    } catch (error) {
      throw inRewindTerms(inUnixSeconds(error), params);
    }
    return {};
  },
};

/**
 * The service's refusals that CMQ's RewindQueue documentation gives codes of their own: a queue
 * whose `rewindSeconds` is 0 is 6050 `(10670)` ("your queue cannot be rewinded"), a time it can't
 * take `(10680)` ("invalid rewind time"), and a `rewindSeconds` above the retention `(10700)`
 * (CreateQueue, SetQueueAttributes). Before, all three were the generic `(10110)`. Each message
 * keeps CMQ's words, then cmqd's reason; any other error passes unchanged.
 */
function inRewindTerms(error: unknown, params: CmqParams): unknown {
  if (!(error instanceof BrokerError) || error.code !== "InvalidParameter") return error;
  // The reason in CMQ's names (`startConsumeTime`, `msgRetentionSeconds`), without its module.
  const reason = () => toCmqError(error, params)!.message.replace(/^\(\d+\)/, "");
  if (error.field === "timestamp" && error.message.includes("rewind is disabled")) {
    return new CmqError(
      cmqCode.queueCannotRewind,
      `(${moduleCode.rewindDisabled})your queue cannot be rewinded: ${reason()}`,
    );
  }
  if (error.field === "timestamp" && error.message.includes("in the future")) {
    return invalidParameter(moduleCode.invalidRewindTime, `invalid rewind time: ${reason()}`);
  }
  if (error.field === "rewindSeconds" && error.message.includes("must not exceed")) {
    return invalidParameter(
      moduleCode.rewindOverRetention,
      `rewindSeconds cannot be greater than msgRetentionSeconds: ${reason()}`,
    );
  }
  return error;
}

/**
 * A refusal of a rewind's time in the future names the broker's time in milliseconds, which a
 * client of `startConsumeTime` (seconds) would read as seconds: it becomes the last whole second
 * it accepts.
 */
function inUnixSeconds(error: unknown): unknown {
  if (!(error instanceof BrokerError) || error.field !== "timestamp") return error;
  const message = error.message
    .replace(
      /\(the broker's time is (\d+)\)/,
      (_, ms) => `(the broker's time is ${Math.floor(Number(ms) / 1000)}, Unix seconds)`,
    );
  return new BrokerError(error.code, message, { field: error.field });
}

/** The queue management actions by CMQ action name. */
export const queueActions: ReadonlyMap<string, CmqAction> = new Map([
  ["CreateQueue", createQueue],
  ["ListQueue", listQueue],
  ["GetQueueAttributes", getQueueAttributes],
  ["SetQueueAttributes", setQueueAttributes],
  ["DeleteQueue", deleteQueue],
  ["RewindQueue", rewindQueue],
]);
