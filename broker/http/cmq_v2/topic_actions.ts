/**
 * CMQ's topic actions: CreateTopic, ListTopic, GetTopicAttributes, SetTopicAttributes,
 * DeleteTopic, PublishMessage, BatchPublishMessage. Each is one call of the `TopicService`.
 *
 * CMQ's names and codes: `filterType` 1 (tags, the default) or 2 (routing keys); `maxMsgSize`
 * and `msgRetentionSeconds` in cmqd's topic ranges; `msgTag.n` and `routingKey` on publishes
 * (an empty `routingKey`, which the Python SDK always sends, counts as none; the C++ SDK's
 * `routingkey` is taken as `routingKey`). Times are Unix
 * seconds.
 *
 * @module
 */
import { type CmqTopicAction, unixSeconds } from "./action_types.ts";
import { cmqCode, CmqError, invalidParameter, moduleCode } from "./errors.ts";
import {
  type CmqParams,
  numberedList,
  optionalInteger,
  optionalNumberedList,
  requiredText,
} from "./params.ts";
import { batchEntriesMax } from "./message_actions.ts";
import { listQueueLimit } from "./queue_actions.ts";
import { BrokerError, type Topic, topicLimits, type TopicService } from "./deps.ts";

/** CMQ's `filterType` numbers and cmqd's names for them. */
const filterTypes = { 1: "tag", 2: "routingKey" } as const;

/** Entries read of a `msgTag.n` list; the engine's own limit on tags (5) is checked there. */
const tagEntriesMax = 16;

/** CMQ has no topic ids apart from names; the name is unique among live topics. */
function topicIdOf(name: string): string {
  return name;
}

function filterTypeNumber(topic: Topic): number {
  return topic.filterType === "routingKey" ? 2 : 1;
}

/** The topic attributes a CreateTopic or SetTopicAttributes carries (absent ones left out). */
function readTopicAttributes(params: CmqParams) {
  const attributes: { maxMessageBytes?: number; retentionSeconds?: number } = {};
  const maxMsgSize = optionalInteger(params, "maxMsgSize", topicLimits.maxMessageBytes);
  if (maxMsgSize !== undefined) attributes.maxMessageBytes = maxMsgSize;
  const retention = optionalInteger(params, "msgRetentionSeconds", topicLimits.retentionSeconds);
  if (retention !== undefined) attributes.retentionSeconds = retention;
  return attributes;
}

function topicExistsError(topicName: string): CmqError {
  return new CmqError(cmqCode.queueAlreadyExists, `topic '${topicName}' already exists`);
}

/** True when `topicName` exists now (a local read: no log write). */
async function topicExists(topics: TopicService, topicName: string): Promise<boolean> {
  try {
    await topics.getTopic(topicName);
    return true;
  } catch (error) {
    if (error instanceof BrokerError && error.code === "TopicNotFound") return false;
    throw error;
  }
}

const createTopic: CmqTopicAction = {
  scope: "topic",
  permission: "manage",
  async run({ topics, params, topicName }) {
    const type = optionalInteger(params, "filterType", { min: 1, max: 2 }) ?? 1;
    const attributes = { ...readTopicAttributes(params), filterType: filterTypes[type as 1 | 2] };
    // As CreateQueue: applications create at every start and ignore the "exists" answer, which
    // is answered from a read without a replicated write.
    if (await topicExists(topics, topicName)) throw topicExistsError(topicName);
    const result = await topics.createTopic(topicName, attributes);
    if (!result.created) throw topicExistsError(topicName);
    return { topicId: topicIdOf(topicName) };
  },
};

/** `searchWord`, `offset` and `limit` of the list actions, as cmqd's list options. */
export function listOptions(params: CmqParams) {
  const searchWord = params.get("searchWord");
  if (searchWord !== undefined && searchWord.length > 64) {
    throw invalidParameter(
      moduleCode.outOfRange,
      "parameter searchWord value or length is out of range (at most 64 characters)",
    );
  }
  const offset = optionalInteger(params, "offset", { min: 0, max: Number.MAX_SAFE_INTEGER });
  const limit = optionalInteger(params, "limit", listQueueLimit) ?? listQueueLimit.default;
  return { prefix: searchWord === "" ? undefined : searchWord, offset, limit };
}

const listTopic: CmqTopicAction = {
  scope: "account",
  permission: "read",
  async run({ topics, params }) {
    const list = await topics.listTopics(listOptions(params));
    return {
      totalCount: list.total,
      topicList: list.topics.map((topic) => ({
        topicId: topicIdOf(topic.name),
        topicName: topic.name,
      })),
    };
  },
};

const getTopicAttributes: CmqTopicAction = {
  scope: "topic",
  permission: "read",
  async run({ topics, topicName }) {
    const topic = await topics.getTopic(topicName);
    return {
      topicName: topic.name,
      // CMQ counts the messages a topic holds; cmqd keeps none, and counts those published.
      msgCount: topic.publishedMessages,
      maxMsgSize: topic.maxMessageBytes,
      msgRetentionSeconds: topic.retentionSeconds,
      filterType: filterTypeNumber(topic),
      createTime: unixSeconds(topic.createdAt),
      lastModifyTime: unixSeconds(topic.modifiedAt),
    };
  },
};

const setTopicAttributes: CmqTopicAction = {
  scope: "topic",
  permission: "manage",
  async run({ topics, params, topicName }) {
    const topic = await topics.updateTopic(topicName, readTopicAttributes(params));
    return { maxMsgSize: topic.maxMessageBytes, msgRetentionSeconds: topic.retentionSeconds };
  },
};

const deleteTopic: CmqTopicAction = {
  scope: "topic",
  permission: "manage",
  async run({ topics, topicName }) {
    await topics.deleteTopic(topicName);
    return {};
  },
};

/** The tags and routing key of a publish, applying to every message of a batch. */
function publishFilters(params: CmqParams): { tags?: string[]; routingKey?: string } {
  const filters: { tags?: string[]; routingKey?: string } = {};
  const tags = optionalNumberedList(params, "msgTag", tagEntriesMax);
  if (tags !== undefined) filters.tags = tags;
  // The official C++ SDK's BatchPublishMessage names it `routingkey` (always sent, empty
  // without a key); a request with both spellings is read by `routingKey`.
  const routingKey = params.get(params.spelling("routingKey", "routingkey"));
  if (routingKey !== undefined && routingKey !== "") filters.routingKey = routingKey;
  return filters;
}

const publishMessage: CmqTopicAction = {
  scope: "topic",
  permission: "publish",
  async run({ topics, params, topicName }) {
    const body = requiredText(params, "msgBody");
    const published = await topics.publish(topicName, [{ body, ...publishFilters(params) }]);
    return { msgId: published.messages[0].id };
  },
};

const batchPublishMessage: CmqTopicAction = {
  scope: "topic",
  permission: "publish",
  async run({ topics, params, topicName }) {
    const bodies = numberedList(params, "msgBody", batchEntriesMax);
    const filters = publishFilters(params);
    const published = await topics.publish(
      topicName,
      bodies.map((body) => ({ body, ...filters })),
    );
    return { msgList: published.messages.map((message) => ({ msgId: message.id })) };
  },
};

/** The topic actions by CMQ action name. */
export const topicActions: ReadonlyMap<string, CmqTopicAction> = new Map([
  ["CreateTopic", createTopic],
  ["ListTopic", listTopic],
  ["GetTopicAttributes", getTopicAttributes],
  ["SetTopicAttributes", setTopicAttributes],
  ["DeleteTopic", deleteTopic],
  ["PublishMessage", publishMessage],
  ["BatchPublishMessage", batchPublishMessage],
]);
