/**
 * CMQ's subscription actions: Subscribe, Unsubscribe, ListSubscriptionByTopic,
 * GetSubscriptionAttributes, SetSubscriptionAttributes, ClearSubscriptionFilterTags. Each is
 * one call of the `TopicService` (SetSubscriptionAttributes reads the subscription first).
 *
 * CMQ's names: `protocol` `http` (the `endpoint` is an http or https URL) or `queue` (the
 * `endpoint` is a queue name); `notifyStrategy` BACKOFF_RETRY or EXPONENTIAL_DECAY_RETRY;
 * `notifyContentFormat` JSON or SIMPLIFIED; `filterTag.n`; `bindingKey.n`. The SDKs send a
 * strategy and a format on every Subscribe; they only mean something for URL endpoints, and
 * are checked but not applied for queue endpoints.
 *
 * @module
 */
import { type CmqTopicAction, unixSeconds } from "./action_types.ts";
import { cmqCode, CmqError, invalidParameter, moduleCode } from "./errors.ts";
import { type CmqParams, nameParam, optionalNumberedList, requiredText } from "./params.ts";
import { listOptions } from "./topic_actions.ts";
import {
  BrokerError,
  type Subscription,
  type SubscriptionAttributesInput,
  type TopicService,
} from "./deps.ts";

/** Entries read of a `filterTag.n` or `bindingKey.n` list; the engine checks its own limits. */
const filterEntriesMax = 16;

const notifyStrategies = {
  BACKOFF_RETRY: "backoff",
  EXPONENTIAL_DECAY_RETRY: "exponentialDecay",
} as const;

const contentFormats = { JSON: "json", SIMPLIFIED: "simplified" } as const;

type Strategy = keyof typeof notifyStrategies;
type Format = keyof typeof contentFormats;

/**
 * The value of an enumerated parameter, or undefined when absent or empty; else (10110). The C++
 * SDK's SetSubscriptionAttributes sends `notifyStrategy` and `notifyContentFormat` always, empty
 * when the application set neither: that changes neither.
 */
function optionalChoice<T extends string>(
  params: CmqParams,
  name: string,
  choices: readonly T[],
): T | undefined {
  const value = params.get(name);
  if (value === undefined || value === "") return undefined;
  if (!(choices as readonly string[]).includes(value)) {
    throw invalidParameter(
      moduleCode.parameterError,
      `parameter ${name} error: one of ${choices.join(", ")}`,
    );
  }
  return value as T;
}

/** Filters and push settings of a Subscribe or SetSubscriptionAttributes. */
function readSettings(params: CmqParams, urlEndpoint: boolean): SubscriptionAttributesInput {
  const input: SubscriptionAttributesInput = {};
  const filterTags = optionalNumberedList(params, "filterTag", filterEntriesMax);
  if (filterTags !== undefined) input.filterTags = filterTags;
  const bindingKeys = optionalNumberedList(params, "bindingKey", filterEntriesMax);
  if (bindingKeys !== undefined) input.bindingKeys = bindingKeys;
  const strategy = optionalChoice(
    params,
    "notifyStrategy",
    Object.keys(notifyStrategies) as Strategy[],
  );
  const format = optionalChoice(
    params,
    "notifyContentFormat",
    Object.keys(contentFormats) as Format[],
  );
  if (urlEndpoint && strategy !== undefined) input.retryPolicy = notifyStrategies[strategy];
  if (urlEndpoint && format !== undefined) input.format = contentFormats[format];
  return input;
}

type Protocol = "http" | "queue";

/**
 * CMQ's two protocols. CMQ has no `https` protocol (its Subscribe documentation: "HTTP、queue";
 * an https:// URL is an endpoint of protocol http), so `https` is refused like any other value,
 * with CMQ's (10110), and the message says what to send instead.
 */
function protocolParam(params: CmqParams): Protocol {
  const protocol = params.get("protocol");
  if (protocol === undefined) {
    throw invalidParameter(moduleCode.missingParameter, "lacked of required parameter protocol");
  }
  if (protocol === "http" || protocol === "queue") return protocol;
  throw invalidParameter(
    moduleCode.parameterError,
    "parameter protocol error: one of http, queue" +
      (protocol === "https" ? " (an https:// endpoint is given with protocol http)" : ""),
  );
}

/** The `endpoint` of a Subscribe as cmqd's endpoint (the engine checks URLs). */
function endpointOf(params: CmqParams, protocol: Protocol) {
  return protocol === "queue"
    ? { queue: nameParam(params, "endpoint") }
    : { url: requiredText(params, "endpoint") };
}

function protocolOf(subscription: Subscription): Protocol {
  return "queue" in subscription.endpoint ? "queue" : "http";
}

function endpointText(subscription: Subscription): string {
  const endpoint = subscription.endpoint;
  return "queue" in endpoint ? endpoint.queue : endpoint.url;
}

/** CMQ has no subscription ids apart from names; the name is unique within its topic. */
function subscriptionIdOf(name: string): string {
  return name;
}

function subscriptionExistsError(name: string): CmqError {
  return new CmqError(cmqCode.queueAlreadyExists, `subscription '${name}' already exists`);
}

/** True when the subscription exists now (a local read: no log write). */
async function subscriptionExists(
  topics: TopicService,
  topicName: string,
  name: string,
): Promise<boolean> {
  try {
    await topics.getSubscription(topicName, name);
    return true;
  } catch (error) {
    if (error instanceof BrokerError && error.code === "SubscriptionNotFound") return false;
    throw error;
  }
}

const subscribe: CmqTopicAction = {
  scope: "topic",
  permission: "manage",
  queuesWritten(params) {
    return protocolParam(params) === "queue" ? [nameParam(params, "endpoint")] : [];
  },
  async run({ topics, params, topicName }) {
    const name = nameParam(params, "subscriptionName");
    const protocol = protocolParam(params);
    const input = {
      ...readSettings(params, protocol === "http"),
      endpoint: endpointOf(params, protocol),
    };
    // As CreateQueue: an existing name is answered from a read, without a replicated write.
    if (await subscriptionExists(topics, topicName, name)) throw subscriptionExistsError(name);
    const result = await topics.subscribe(topicName, name, input);
    // cmqd's subscribe is idempotent for identical attributes; CMQ refuses any existing name
    // (here: one made between the read and the write).
    if (!result.created) throw subscriptionExistsError(name);
    return { subscriptionId: subscriptionIdOf(name) };
  },
};

const unsubscribe: CmqTopicAction = {
  scope: "topic",
  permission: "manage",
  async run({ topics, params, topicName }) {
    await topics.unsubscribe(topicName, nameParam(params, "subscriptionName"));
    return {};
  },
};

const listSubscriptionByTopic: CmqTopicAction = {
  scope: "topic",
  permission: "read",
  async run({ topics, params, topicName }) {
    const list = await topics.listSubscriptions(topicName, listOptions(params));
    return {
      totalCount: list.total,
      subscriptionList: list.subscriptions.map((subscription) => ({
        subscriptionId: subscriptionIdOf(subscription.name),
        subscriptionName: subscription.name,
        protocol: protocolOf(subscription),
        endpoint: endpointText(subscription),
      })),
    };
  },
};

function strategyName(subscription: Subscription): Strategy {
  return subscription.retryPolicy === "backoff" ? "BACKOFF_RETRY" : "EXPONENTIAL_DECAY_RETRY";
}

function formatName(subscription: Subscription): Format {
  // A queue gets the message itself, which is what SIMPLIFIED means for a URL.
  if (subscription.format === undefined) return "SIMPLIFIED";
  return subscription.format === "json" ? "JSON" : "SIMPLIFIED";
}

const getSubscriptionAttributes: CmqTopicAction = {
  scope: "topic",
  permission: "read",
  async run({ topics, params, topicName }) {
    const s = await topics.getSubscription(topicName, nameParam(params, "subscriptionName"));
    return {
      // CMQ's app id of the topic's owner, a string in CMQ's answer (the Go SDK asserts the
      // type and panics on a number); cmqd has no accounts.
      topicOwner: "0",
      // CMQ: messages waiting to be delivered; a queue endpoint takes its copies at publish.
      msgCount: s.pendingMessages ?? 0,
      protocol: protocolOf(s),
      // The Python SDK (cmq/subscription.py) and the C++ SDK (Subscription.cpp) read this
      // spelling; the Java SDK and CMQ's documentation read `protocol`.
      protocal: protocolOf(s),
      endpoint: endpointText(s),
      notifyStrategy: strategyName(s),
      notifyContentFormat: formatName(s),
      // CMQ's documentation names the list filterTag, the Python SDK reads filterTags.
      filterTag: s.filterTags,
      filterTags: s.filterTags,
      bindingKey: s.bindingKeys,
      createTime: unixSeconds(s.createdAt),
      lastModifyTime: unixSeconds(s.modifiedAt),
    };
  },
};

const setSubscriptionAttributes: CmqTopicAction = {
  scope: "topic",
  permission: "manage",
  async run({ topics, params, topicName, mayWriteQueue }) {
    const name = nameParam(params, "subscriptionName");
    const current = await topics.getSubscription(topicName, name);
    const input = readSettings(params, protocolOf(current) === "http");
    await topics.updateSubscription(topicName, name, input, mayWriteQueue);
    return {};
  },
};

const clearSubscriptionFilterTags: CmqTopicAction = {
  scope: "topic",
  permission: "manage",
  async run({ topics, params, topicName, mayWriteQueue }) {
    const subscriptionName = nameParam(params, "subscriptionName");
    // A routing-key topic's subscriptions have no tags to clear (and the engine refuses any
    // `filterTags` there): a no-op, once the subscription is known to exist.
    if ((await topics.getTopic(topicName)).filterType === "routingKey") {
      await topics.getSubscription(topicName, subscriptionName);
      return {};
    }
    await topics.updateSubscription(topicName, subscriptionName, { filterTags: [] }, mayWriteQueue);
    return {};
  },
};

/** The subscription actions by CMQ action name. */
export const subscriptionActions: ReadonlyMap<string, CmqTopicAction> = new Map([
  ["Subscribe", subscribe],
  ["Unsubscribe", unsubscribe],
  ["ListSubscriptionByTopic", listSubscriptionByTopic],
  ["GetSubscriptionAttributes", getSubscriptionAttributes],
  ["SetSubscriptionAttributes", setSubscriptionAttributes],
  ["ClearSubscriptionFilterTags", clearSubscriptionFilterTags],
  // The official Java SDK's ClearFilterTags() sends the action under this spelling.
  ["ClearSUbscriptionFIlterTags", clearSubscriptionFilterTags],
]);
