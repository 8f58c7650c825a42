/**
 * The topic commands of the cmqd CLI: create a topic, subscribe a queue or a URL to it, publish
 * one message. Lists are comma-separated flag values (`--tags paid,refunded`).
 *
 * @module
 */
import type {
  PublishEntry,
  SubscriptionAttributesInput,
  TopicAttributesInput,
} from "../protocol.ts";
import { integerFlag, nameAt, type ParsedArgs, UsageError } from "./args.ts";
import type { CommandContext, ExitStatus } from "./commands.ts";
import { checkAnswer, checkCount, topicShape } from "./answers.ts";
import { keyValues, table } from "./format.ts";

/** `topic <action>` → its command. */
export const topicCommands: Record<string, (context: CommandContext) => Promise<ExitStatus>> = {
  "topic create": createTopic,
  "topic subscribe": subscribe,
  "topic publish": publish,
};

/** `topic create NAME [--filter-type tag|routingKey] [--max-message-bytes N] [--retention-seconds N]` */
async function createTopic(context: CommandContext): Promise<ExitStatus> {
  const name = nameAt(context.args, 2, "topic name");
  const attributes: TopicAttributesInput = {};
  const filterType = context.args.flags.get("filter-type");
  if (filterType !== undefined) {
    attributes.filterType = oneOf("filter-type", filterType, ["tag", "routingKey"] as const);
  }
  // The broker checks each range and answers InvalidParameter naming the field.
  const any = { min: 0, max: Number.MAX_SAFE_INTEGER };
  attributes.maxMessageBytes = integerFlag(context.args, "max-message-bytes", any);
  attributes.retentionSeconds = integerFlag(context.args, "retention-seconds", any);
  const { topic, created } = await context.client.createTopic(name, attributes, context);
  checkAnswer(topic, "topic create", topicShape);
  if (context.json) {
    context.out(jsonText({ created, topic }));
    return 0;
  }
  context.out(`${created ? "created" : "exists (same attributes)"}\n${
    keyValues([
      ["name", topic.name],
      ["filterType", topic.filterType],
      ["maxMessageBytes", String(topic.maxMessageBytes)],
      ["retentionSeconds", String(topic.retentionSeconds)],
    ])
  }`);
  return 0;
}

/**
 * `topic subscribe TOPIC NAME (--queue Q | --push-url URL) [--filter-tags a,b]
 * [--binding-keys k,...] [--retry-policy P] [--push-format F]`
 */
async function subscribe(context: CommandContext): Promise<ExitStatus> {
  const topic = nameAt(context.args, 2, "topic name");
  const name = nameAt(context.args, 3, "subscription name");
  const { client, args } = context;
  const { subscription, created } = await client.subscribe(
    topic,
    name,
    subscriptionAttributes(args),
    context,
  );
  checkAnswer(subscription, "topic subscribe", { name: "string", endpoint: "object" });
  // The endpoint is a queue or a URL: the field it has is the one printed, so that one is checked
  // (one with neither is taken for a URL: `endpoint.url is missing`).
  checkAnswer(subscription, "topic subscribe", {
    endpoint: "queue" in subscription.endpoint ? { queue: "string" } : { url: "string" },
  });
  if (context.json) {
    context.out(jsonText({ created, subscription }));
    return 0;
  }
  const endpoint = "queue" in subscription.endpoint
    ? `queue ${subscription.endpoint.queue}`
    : subscription.endpoint.url;
  context.out(`${created ? "subscribed" : "exists (same attributes)"}: ${name} → ${endpoint}`);
  return 0;
}

/** The subscription given as flags: exactly one of `--queue` and `--push-url`. */
export function subscriptionAttributes(args: ParsedArgs): SubscriptionAttributesInput {
  const queue = args.flags.get("queue");
  const url = args.flags.get("push-url");
  if ((queue === undefined) === (url === undefined)) {
    throw new UsageError("give exactly one of --queue and --push-url");
  }
  const attributes: SubscriptionAttributesInput = {
    endpoint: queue !== undefined ? { queue } : { url: url! },
  };
  const filterTags = listFlag(args, "filter-tags");
  if (filterTags !== undefined) attributes.filterTags = filterTags;
  const bindingKeys = listFlag(args, "binding-keys");
  if (bindingKeys !== undefined) attributes.bindingKeys = bindingKeys;
  const retryPolicy = args.flags.get("retry-policy");
  if (retryPolicy !== undefined) {
    attributes.retryPolicy = oneOf(
      "retry-policy",
      retryPolicy,
      ["exponentialDecay", "backoff"] as const,
    );
  }
  const format = args.flags.get("push-format");
  if (format !== undefined) {
    attributes.format = oneOf("push-format", format, ["json", "simplified"] as const);
  }
  return attributes;
}

/** `topic publish TOPIC BODY [--tags a,b] [--routing-key K]`: exit 1 when a subscription refused it. */
async function publish(context: CommandContext): Promise<ExitStatus> {
  const topic = nameAt(context.args, 2, "topic name");
  const entry: PublishEntry = { body: positional(context, 3, "message body") };
  const tags = listFlag(context.args, "tags");
  if (tags !== undefined) entry.tags = tags;
  const routingKey = context.args.flags.get("routing-key");
  if (routingKey !== undefined) entry.routingKey = routingKey;
  const answer = checkAnswer(await context.client.publish(topic, [entry], context), "publish", {
    messages: [{
      id: "string",
      fannedOut: "number",
      failures: [{ subscription: "string", code: "string", message: "string" }],
    }],
  });
  const [published] = checkCount(answer.messages, 1, "publish");
  if (context.json) context.out(jsonText(published));
  else {
    context.out(`published ${published.id} to ${published.fannedOut} subscription(s)`);
    if (published.failures.length > 0) {
      context.out(table(
        ["SUBSCRIPTION", "CODE", "MESSAGE"],
        published.failures.map((failure) => [failure.subscription, failure.code, failure.message]),
      ));
    }
  }
  return published.failures.length === 0 ? 0 : 1;
}

/**
 * A comma-separated flag as a list (spaces around items trimmed), or undefined when absent. An
 * empty item is a usage error: dropped, `--filter-tags ""` (a variable the shell expanded to
 * nothing) subscribed without a filter, so the subscription took every message.
 */
function listFlag(args: ParsedArgs, name: string): string[] | undefined {
  const text = args.flags.get(name);
  if (text === undefined) return undefined;
  const items = text.split(",").map((piece) => piece.trim());
  const empty = items.indexOf("");
  if (empty >= 0) {
    throw new UsageError(
      `--${name}: item ${empty + 1} of '${text}' is empty; give non-empty items separated by ` +
        "commas, or leave the flag out",
    );
  }
  return items;
}

function oneOf<const T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`--${flag} must be one of ${allowed.join(", ")}`);
  }
  return value as T;
}

function positional(context: CommandContext, index: number, what: string): string {
  const value = context.args.positionals[index];
  if (value === undefined) throw new UsageError(`missing ${what}`);
  return value;
}

function jsonText(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
