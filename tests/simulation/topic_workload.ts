/**
 * The topic workload of the simulation and its checks. Two topics (tags and routing keys) fan
 * out to four queues and three simulated HTTP endpoints (one failing often, one slow and
 * hanging, one well-behaved); a publisher publishes small batches through whichever node it
 * believes leads, through crashes and partitions. After healing, the checks are:
 *
 * - fan-out: every acknowledged publish reports one copy per matching subscription (by a
 *   reference matcher written here, independent of the engine's router) and no refusal;
 * - queues: every acknowledged message is in every matching queue exactly once (one message id),
 *   one whose outcome is unknown at most once, and nothing is in a queue it does not match;
 * - URLs: every acknowledged message reached (2xx) every matching endpoint at least once, and no
 *   endpoint was ever sent a message it does not match; nothing was dropped or expired;
 * - push state is identical on all replicas: the final replica comparison covers it, since the
 *   snapshot holds every pending push, attempt count and schedule.
 *
 * @module
 */
import { BrokerError, ReplicationError } from "../../broker/testing.ts";
import { SimulatedCrash } from "../../storage/mod.ts";
import { randomInt } from "../../raft/mod.ts";
import type { PublishEntry, SubscriptionAttributesInput } from "../../sdk/protocol.ts";
import { SimulationViolation } from "./checkers.ts";
import type { SimEndpoints } from "./endpoints.ts";
import { isTransient, outcomeUnknown, redirect, type WorkloadParts } from "./workload.ts";

interface TopicSpec {
  name: string;
  filterType: "tag" | "routingKey";
}

interface SubscriptionSpec {
  topic: string;
  name: string;
  attributes: SubscriptionAttributesInput;
}

/** The topics, queues and subscriptions of the workload. */
export const topicSpecs: TopicSpec[] = [
  { name: "pay", filterType: "tag" },
  { name: "ev", filterType: "routingKey" },
];
export const topicQueues = ["t-risk", "t-mkt", "t-all", "t-eu"];
export const subscriptionSpecs: SubscriptionSpec[] = [
  {
    topic: "pay",
    name: "risk",
    attributes: { endpoint: { queue: "t-risk" }, filterTags: ["paid"] },
  },
  {
    topic: "pay",
    name: "mkt",
    attributes: { endpoint: { queue: "t-mkt" }, filterTags: ["paid", "refunded"] },
  },
  { topic: "pay", name: "all", attributes: { endpoint: { queue: "t-all" } } },
  {
    topic: "pay",
    name: "hook-a",
    attributes: { endpoint: { url: "http://a.sim/" }, filterTags: ["paid"] },
  },
  {
    topic: "pay",
    name: "hook-b",
    attributes: { endpoint: { url: "http://b.sim/" }, format: "simplified" },
  },
  { topic: "ev", name: "eu", attributes: { endpoint: { queue: "t-eu" }, bindingKeys: ["*.eu.#"] } },
  {
    topic: "ev",
    name: "hook-c",
    attributes: { endpoint: { url: "http://c.sim/" }, bindingKeys: ["orders.#"] },
  },
];

/** The endpoints' misbehaviour during the fault phase. */
export function configureEndpoints(endpoints: SimEndpoints): void {
  endpoints.set("http://a.sim/", { failRate: 0.3, hangRate: 0.03, delayMsMax: 200 });
  endpoints.set(
    "http://b.sim/",
    { failRate: 0.05, hangRate: 0.1, delayMsMax: 2_500 },
    "simplified",
  );
  endpoints.set("http://c.sim/", { failRate: 0, hangRate: 0, delayMsMax: 50 });
}

const tagPool = ["paid", "refunded", "vip"];
const keyPool = ["orders.eu.created", "orders.us.paid", "users.eu", "orders", "eu"];

/** Does a subscription take a message? The reference rules of the README's "Topics" section, written plainly. */
export function matches(spec: SubscriptionSpec, message: PublishEntry): boolean {
  const filterType = topicSpecs.find((topic) => topic.name === spec.topic)!.filterType;
  if (filterType === "tag") {
    const filter = spec.attributes.filterTags ?? [];
    if (filter.length === 0) return true;
    return (message.tags ?? []).some((tag) => filter.includes(tag));
  }
  const keys = spec.attributes.bindingKeys ?? [];
  if (keys.length === 0) return true;
  const words = message.routingKey ? message.routingKey.split(".") : [];
  return keys.some((key) => wordsMatch(key.split("."), words));
}

function wordsMatch(pattern: string[], words: string[]): boolean {
  if (pattern.length === 0) return words.length === 0;
  const [head, ...rest] = pattern;
  if (head === "#") {
    for (let skip = 0; skip <= words.length; skip++) {
      if (wordsMatch(rest, words.slice(skip))) return true;
    }
    return false;
  }
  if (words.length === 0) return false;
  return (head === "*" || head === words[0]) && wordsMatch(rest, words.slice(1));
}

/** A published message as the publisher knows it. */
interface PublishedRecord {
  topic: string;
  message: PublishEntry;
  /** False when the publish's outcome is unknown (it may or may not have happened). */
  acknowledged: boolean;
}

/** Publishes batches of 1–3 messages until stopped, recording every outcome. */
export class Publisher {
  readonly #parts: WorkloadParts;
  readonly #target = { id: "n1" };
  #counter = 0;
  readonly published = new Map<string, PublishedRecord>();
  stopped = false;
  operations = 0;

  constructor(parts: WorkloadParts) {
    this.#parts = parts;
  }

  async run(): Promise<void> {
    while (!this.stopped) {
      await this.#step();
      this.operations++;
      await this.#parts.scheduler.sleep(250 + randomInt(this.#parts.prng, 500));
    }
  }

  #batch(topic: TopicSpec): PublishEntry[] {
    const prng = this.#parts.prng;
    return Array.from({ length: 1 + randomInt(prng, 3) }, () => {
      const message: PublishEntry = { body: `${topic.name}-${++this.#counter}` };
      if (topic.filterType === "tag") {
        const tags = tagPool.filter(() => prng.next() < 0.4);
        if (tags.length > 0) message.tags = tags;
      } else if (prng.next() < 0.9) {
        message.routingKey = keyPool[randomInt(prng, keyPool.length)];
      }
      return message;
    });
  }

  async #step(): Promise<void> {
    const { cluster, prng } = this.#parts;
    const node = cluster.node(this.#target.id);
    const topics = node.topics;
    if (topics === null) {
      const up = cluster.up();
      if (up.length > 0) this.#target.id = up[randomInt(prng, up.length)].id;
      return;
    }
    const topic = topicSpecs[randomInt(prng, topicSpecs.length)];
    const messages = this.#batch(topic);
    try {
      const result = await topics.publish(topic.name, messages);
      messages.forEach((message, index) => {
        this.published.set(message.body, { topic: topic.name, message, acknowledged: true });
        checkFanOut(topic.name, message, result.messages[index]);
      });
    } catch (error) {
      if (error instanceof SimulatedCrash || outcomeUnknown(error)) {
        for (const message of messages) {
          this.published.set(message.body, { topic: topic.name, message, acknowledged: false });
        }
      }
      if (!isTransient(error)) throw error;
      const moved = (error instanceof BrokerError && error.code !== "NotReady") ||
        error instanceof ReplicationError;
      if (moved) redirect(this.#parts, this.#target, error);
    }
  }
}

function checkFanOut(
  topic: string,
  message: PublishEntry,
  result: { fannedOut: number; failures: unknown[] },
): void {
  const expected = subscriptionSpecs.filter((spec) =>
    spec.topic === topic && matches(spec, message)
  );
  if (result.fannedOut !== expected.length || result.failures.length > 0) {
    throw new SimulationViolation(
      "atomic fan-out",
      `${message.body} went to ${result.fannedOut} subscriptions (${result.failures.length} ` +
        `refused), ${expected.length} match`,
    );
  }
}

/**
 * The checks after healing: `received` maps each topic queue to body → the distinct message ids
 * it was received under.
 */
export function checkTopicDeliveries(
  publisher: Publisher,
  received: Map<string, Map<string, Set<string>>>,
  endpoints: SimEndpoints,
): { queueCopies: number; pushes: number } {
  let queueCopies = 0;
  for (const spec of subscriptionSpecs) {
    const queue = "queue" in spec.attributes.endpoint! ? spec.attributes.endpoint.queue : null;
    const url = "url" in spec.attributes.endpoint! ? spec.attributes.endpoint.url : null;
    const seen = queue !== null ? received.get(queue) ?? new Map() : null;
    const pushed = url !== null ? endpoints.acknowledged.get(url) ?? new Map() : null;
    for (const [body, record] of publisher.published) {
      const wanted = record.topic === spec.topic && matches(spec, record.message);
      const copies = seen !== null ? seen.get(body)?.size ?? 0 : pushed!.get(body) ?? 0;
      const where = `${spec.topic}/${spec.name}`;
      if (!wanted && copies > 0) {
        throw new SimulationViolation(
          "no delivery to a non-matching subscription",
          `${body} → ${where}`,
        );
      }
      if (!wanted) continue;
      if (record.acknowledged && copies === 0) {
        throw new SimulationViolation("every published message is delivered", `${body} ✗ ${where}`);
      }
      if (seen !== null && copies > 1) {
        throw new SimulationViolation(
          "queue copies exactly once",
          `${body} ${copies}× in ${queue}`,
        );
      }
      queueCopies += seen !== null ? copies : 0;
    }
  }
  for (const request of endpoints.requests) {
    const record = publisher.published.get(request.body);
    const spec = subscriptionSpecs.find((candidate) =>
      "url" in candidate.attributes.endpoint! && candidate.attributes.endpoint.url === request.url
    )!;
    if (record === undefined || record.topic !== spec.topic || !matches(spec, record.message)) {
      throw new SimulationViolation("no push to a non-matching subscription", `${request.body}`);
    }
  }
  for (const [queue, bodies] of received) {
    for (const body of bodies.keys()) {
      if (!publisher.published.has(body)) {
        throw new SimulationViolation("no invented message", `${body} in ${queue}`);
      }
    }
  }
  return { queueCopies, pushes: endpoints.requests.filter((r) => r.status === 200).length };
}
