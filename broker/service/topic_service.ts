/**
 * The topics as the doors and the push worker see them (`TopicService`, `PushSource`):
 * validate, encode a command, propose it through the replica, map the apply result to the API
 * response. Reads answer from the local state machine after the replica's read barrier, as the
 * queue reads do. Pushes read message bodies back from the log, like receives.
 *
 * @module
 */
import {
  alreadyExists,
  BrokerError,
  canonicalSubscription,
  type CommandResults,
  CommandType,
  encodePublishBatch,
  encodePushResults,
  encodeTopicCommand,
  fromStoredUtf8,
  invalidParameter,
  type LogReader,
  PublishedMessageReader,
  type PushOutcome,
  type PushTarget,
  resolveSubscription,
  resolveTopicCreate,
  resolveTopicUpdate,
  sameTopicAttributes,
  type StateMachine,
  subscriptionLimits,
} from "../engine/mod.ts";
import { type Proposer, ReplicationError } from "../replication/mod.ts";
import { propose, readBarrier } from "./replica_errors.ts";
import { checkThen, missing, unlessUndone } from "./missing_checks.ts";
import { checkList, checkName } from "./validation.ts";
import { CreateLimit } from "./create_limit.ts";
import { checkPublishEntries, checkPushUrlText } from "./topic_validation.ts";
import type { ListQueuesOptions } from "./types.ts";
import type {
  CreateTopicResult,
  DuePushOptions,
  PushDelivery,
  PushSource,
  SubscribeResult,
  TopicService,
} from "./topic_types.ts";
import type {
  PublishEntry,
  PublishResponse,
  Subscription,
  SubscriptionAttributesInput,
  SubscriptionList,
  Topic,
  TopicAttributes,
  TopicAttributesInput,
  TopicList,
} from "../../sdk/protocol.ts";
import { heldRefusal } from "./held_requests.ts";

/** What an `EngineTopicService` runs on (the same parts as the queue service). */
export interface EngineTopicServiceOptions {
  proposer: Proposer;
  machine: StateMachine;
  log: LogReader;
  /** Topics the group may hold; creating one more is 429 `TopicLimitExceeded`. 10 000. */
  topicsMax?: number;
  /** Entries of this node's log it has not applied (`EngineServiceOptions.unappliedEntries`). */
  unappliedEntries?: () => number;
  /**
   * Whether publishes may go ahead now: null, or the error to refuse them with (507
   * `InsufficientStorage` below the free-disk threshold), as for queue sends.
   */
  admitData?: () => BrokerError | null;
}

/**
 * The topic service over one replication group.
 *
 * @example
 * ```ts
 * const topics = new EngineTopicService({ proposer: replica, machine, log: replica });
 * await topics.createTopic("payments", {});
 * await topics.subscribe("payments", "risk", { endpoint: { queue: "risk" }, filterTags: ["paid"] });
 * await topics.publish("payments", [{ body: "order 7 paid", tags: ["paid"] }]);
 * ```
 */
export class EngineTopicService implements TopicService, PushSource {
  readonly #proposer: Proposer;
  readonly #machine: StateMachine;
  readonly #log: LogReader;
  readonly #topicLimit: CreateLimit;
  readonly #admitData: () => BrokerError | null;
  #pushListener: (() => void) | undefined;
  /**
   * The publish entry pushes were last read from: the worker asks for a few due pushes per pass,
   * often of one 16-message entry, which is then read (and CRC-checked) once, not per pass.
   */
  #lastEntry: { index: number; reader: PublishedMessageReader } | null = null;

  constructor(options: EngineTopicServiceOptions) {
    this.#proposer = options.proposer;
    this.#machine = options.machine;
    this.#log = options.log;
    this.#topicLimit = new CreateLimit({
      max: options.topicsMax ?? 10_000,
      count: () => this.#machine.topics.topicCount,
      exists: (name) => this.#machine.topics.getTopic(name) !== undefined,
      kind: "topics",
      unapplied: options.unappliedEntries,
      confirm: () => readBarrier(this.#proposer),
    });
    this.#admitData = options.admitData ?? (() => null);
    this.#machine.onPushPending = () => this.#pushListener?.();
  }

  /** `check` then `write`, the check run again after the read barrier on a miss (missing_checks.ts). */
  #checkThen<C, R>(check: () => C, write: (checked: C) => Promise<R>): Promise<R> {
    return checkThen(this.#proposer, check, write);
  }

  #propose<T extends keyof CommandResults>(type: T, payload: Uint8Array) {
    return propose(this.#proposer, type, payload);
  }

  #attributes(name: string): TopicAttributes {
    checkName(name, "topic");
    const attributes = this.#machine.topics.topicAttributes(name);
    if (attributes === undefined) {
      throw new BrokerError("TopicNotFound", `topic '${name}' does not exist`);
    }
    return attributes;
  }

  #view(name: string): Topic {
    const topic = this.#machine.topics.getTopic(name);
    if (topic === undefined) {
      throw new BrokerError("TopicNotFound", `topic '${name}' does not exist`);
    }
    return topic;
  }

  #subscriptionView(topic: string, name: string): Subscription {
    const subscription = this.#machine.topics.getSubscription(topic, name);
    if (subscription === undefined) {
      throw new BrokerError(
        "SubscriptionNotFound",
        `subscription '${name}' of topic '${topic}' does not exist`,
      );
    }
    return subscription;
  }

  /**
   * `same()`'s answer when it has one both on the local state and after the read barrier (an
   * identical create: the existing topic or subscription, no entry), else `write()`. Nothing is
   * answered from the local state alone (it may be behind: deleted since), and a request that
   * may change something is proposed at once, keeping its place.
   */
  async #unlessSame<T>(same: () => T | undefined, write: () => Promise<T>): Promise<T> {
    if (same() === undefined) return await write();
    await readBarrier(this.#proposer);
    return same() ?? await write();
  }

  async createTopic(name: string, input: TopicAttributesInput): Promise<CreateTopicResult> {
    checkName(name, "topic");
    const attributes = resolveTopicCreate(input);
    const current = this.#machine.topics;
    const same = () => {
      const now = current.topicAttributes(name);
      if (now === undefined || !sameTopicAttributes(now, attributes)) return undefined;
      return { topic: this.#view(name), created: false };
    };
    return await this.#unlessSame(same, () => this.#createTopic(name, attributes));
  }

  async #createTopic(
    name: string,
    attributes: ReturnType<typeof resolveTopicCreate>,
  ): Promise<CreateTopicResult> {
    // Other attributes than the topic's: refused after the read barrier, with no entry.
    const check = () => {
      const current = this.#machine.topics.topicAttributes(name);
      if (current !== undefined && !sameTopicAttributes(current, attributes)) {
        throw unlessUndone(alreadyExists("topic", name));
      }
    };
    const result = await this.#checkThen(check, () =>
      this.#topicLimit.run(
        name,
        () =>
          this.#propose(CommandType.CreateTopic, encodeTopicCommand({ topic: name, attributes })),
      ));
    // The view the apply answered: one read now would show what entries applied after it did.
    return { topic: result.topic, created: result.created };
  }

  async listTopics(options: ListQueuesOptions): Promise<TopicList> {
    const clean = checkList(options ?? {});
    await readBarrier(this.#proposer);
    return this.#machine.topics.listTopics(clean);
  }

  async getTopic(name: string): Promise<Topic> {
    checkName(name, "topic");
    await readBarrier(this.#proposer);
    return this.#view(name);
  }

  async updateTopic(name: string, input: TopicAttributesInput): Promise<Topic> {
    const result = await this.#checkThen(
      () => resolveTopicUpdate(this.#attributes(name), input),
      () =>
        this.#propose(
          CommandType.UpdateTopic,
          encodeTopicCommand({ topic: name, attributes: input }),
        ),
    );
    return result.topic;
  }

  async deleteTopic(name: string): Promise<void> {
    await this.#checkThen(
      () => this.#attributes(name),
      () => this.#propose(CommandType.DeleteTopic, encodeTopicCommand({ topic: name })),
    );
  }

  async publish(topic: string, messages: PublishEntry[]): Promise<PublishResponse> {
    const result = await this.#checkThen(
      () => checkPublishEntries(messages, this.#attributes(topic)),
      (clean) => {
        // A publish held across a freeze of this node is refused (held_requests.ts).
        const refusal = this.#admitData() ?? heldRefusal();
        if (refusal !== null) throw refusal;
        return this.#propose(
          CommandType.PublishBatch,
          encodePublishBatch({ topic, messages: clean }),
        );
      },
    );
    return { messages: result.messages };
  }

  #checkSubscribe(topic: string, name: string, input: SubscriptionAttributesInput) {
    const attributes = this.#attributes(topic);
    checkName(name, "subscription");
    const current = this.#machine.topics.getSubscription(topic, name);
    const resolved = resolveSubscription(undefined, input, attributes.filterType);
    const existing = this.#machine.topics.subscriptionAttributes(topic, name);
    if (
      existing !== undefined && canonicalSubscription(existing) !== canonicalSubscription(resolved)
    ) {
      throw unlessUndone(alreadyExists("subscription", name)); // no entry, as for topics
    }
    if (current === undefined && "url" in resolved.endpoint) {
      checkPushUrlText(resolved.endpoint.url);
    }
    const endpoint = resolved.endpoint;
    if (current === undefined && "queue" in endpoint) {
      if (this.#machine.queueMeta(endpoint.queue) === undefined) {
        throw missing(
          invalidParameter("endpoint.queue", `queue '${endpoint.queue}' does not exist`),
        );
      }
    }
    if (current === undefined) {
      const count = this.#machine.topics.getTopic(topic)?.subscriptions ?? 0;
      if (count >= subscriptionLimits.subscriptionsPerTopicMax) {
        throw invalidParameter(
          "subscription",
          `topic '${topic}' has ${subscriptionLimits.subscriptionsPerTopicMax} subscriptions, ` +
            "the most it may have",
        );
      }
    }
  }

  async subscribe(
    topic: string,
    name: string,
    input: SubscriptionAttributesInput,
  ): Promise<SubscribeResult> {
    const topics = this.#machine.topics;
    const same = () => {
      const filterType = topics.topicAttributes(topic)?.filterType;
      const existing = topics.subscriptionAttributes(topic, name);
      if (filterType === undefined || existing === undefined) return undefined;
      let resolved: ReturnType<typeof resolveSubscription>;
      try {
        resolved = resolveSubscription(undefined, input, filterType);
      } catch {
        return undefined; // refused: the write's checks answer it
      }
      if (canonicalSubscription(existing) !== canonicalSubscription(resolved)) return undefined;
      return { subscription: this.#subscriptionView(topic, name), created: false };
    };
    return await this.#unlessSame(same, () => this.#subscribe(topic, name, input));
  }

  async #subscribe(
    topic: string,
    name: string,
    input: SubscriptionAttributesInput,
  ): Promise<SubscribeResult> {
    const result = await this.#checkThen(
      () => this.#checkSubscribe(topic, name, input),
      () =>
        this.#propose(
          CommandType.Subscribe,
          encodeTopicCommand({ topic, subscription: name, attributes: input ?? {} }),
        ),
    );
    return { subscription: result.subscription, created: result.created };
  }

  async listSubscriptions(topic: string, options: ListQueuesOptions): Promise<SubscriptionList> {
    checkName(topic, "topic");
    const clean = checkList(options ?? {});
    await readBarrier(this.#proposer);
    const list = this.#machine.topics.listSubscriptions(topic, clean);
    if (list === undefined) {
      throw new BrokerError("TopicNotFound", `topic '${topic}' does not exist`);
    }
    return list;
  }

  async getSubscription(topic: string, name: string): Promise<Subscription> {
    checkName(topic, "topic");
    checkName(name, "subscription");
    await readBarrier(this.#proposer);
    this.#view(topic);
    return this.#subscriptionView(topic, name);
  }

  async updateSubscription(
    topic: string,
    name: string,
    input: SubscriptionAttributesInput,
    mayWriteQueue?: (queue: string) => void,
  ): Promise<Subscription> {
    const result = await this.#checkThen(() => {
      const attributes = this.#attributes(topic);
      checkName(name, "subscription");
      const { endpoint, filterTags, bindingKeys, retryPolicy, format } = this.#subscriptionView(
        topic,
        name,
      );
      resolveSubscription(
        { endpoint, filterTags, bindingKeys, retryPolicy, format },
        input,
        attributes.filterType,
      );
      const routing = input.filterTags !== undefined || input.bindingKeys !== undefined ||
        input.endpoint !== undefined;
      if (mayWriteQueue === undefined || !routing) return input;
      if ("queue" in endpoint) mayWriteQueue(endpoint.queue);
      // Checked against this endpoint: the write holds it (see `TopicService`).
      return { ...input, endpoint };
    }, (checked) =>
      this.#propose(
        CommandType.UpdateSubscription,
        encodeTopicCommand({ topic, subscription: name, attributes: checked }),
      ));
    return result.subscription;
  }

  async unsubscribe(topic: string, name: string): Promise<void> {
    await this.#checkThen(() => {
      this.#attributes(topic);
      checkName(name, "subscription");
      this.#subscriptionView(topic, name);
    }, () =>
      this.#propose(
        CommandType.Unsubscribe,
        encodeTopicCommand({ topic, subscription: name }),
      ));
  }

  pushTargets(): PushTarget[] {
    return this.#machine.topics.pushTargets();
  }

  duePushes(target: PushTarget, now: number, options: DuePushOptions): PushDelivery[] {
    const topics = this.#machine.topics;
    const pending = topics.duePushes(target, now, options);
    const deliveries: PushDelivery[] = [];
    let bodyBytes = 0;
    for (const push of pending) {
      let record: ReturnType<PublishedMessageReader["record"]>;
      let stored: Uint8Array;
      try {
        if (this.#lastEntry?.index !== push.logIndex) {
          const payload = this.#log.entry(push.logIndex).payload;
          this.#lastEntry = { index: push.logIndex, reader: new PublishedMessageReader(payload) };
        }
        record = this.#lastEntry.reader.record(push.slot);
        stored = this.#lastEntry.reader.body(record);
      } catch (error) {
        // The replica failed on it (see `PushSource.duePushes`): this node reads no more.
        if (error instanceof ReplicationError || options.unreadable === undefined) throw error;
        options.unreadable({ sequence: push.sequence, attempt: push.attempts }, error);
        continue;
      }
      bodyBytes += stored.length;
      if (deliveries.length > 0 && bodyBytes > (options.bodyBytesMax ?? Infinity)) break;
      const delivery: PushDelivery = {
        sequence: push.sequence,
        attempt: push.attempts,
        messageId: topics.messageId(target.topic, push.sequence)!,
        // Written by this program from a string and CRC-checked since: valid UTF-8, so the
        // decoder need not check (it is the push path's largest single cost otherwise).
        body: fromStoredUtf8(stored),
        tags: record.tags ?? [],
        publishTime: push.publishTime,
      };
      if (record.routingKey !== undefined) delivery.routingKey = record.routingKey;
      deliveries.push(delivery);
    }
    return deliveries;
  }

  nextPushAt(): number | null {
    return this.#machine.topics.nextPushAt();
  }

  pushPending(target: PushTarget, sequence: number, attempt: number): boolean {
    return this.#machine.topics.pushPending(target, sequence, attempt);
  }

  async recordPushOutcomes(outcomes: PushOutcome[]): Promise<void> {
    await this.#propose(CommandType.PushResults, encodePushResults(outcomes));
  }

  onPushPending(listener: () => void): void {
    this.#pushListener = listener;
  }

  async barrier(): Promise<void> {
    await readBarrier(this.#proposer);
  }
}
