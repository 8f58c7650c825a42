/**
 * The topics of one replication group: create, update and delete topics, subscribe, change and
 * remove subscriptions, and the read side (views, listings, what the push worker needs). Publish
 * and push outcomes are in `topic_publish.ts`; the snapshot form is at the end of this file.
 *
 * Determinism: topics and subscriptions live in maps whose insertion order is their creation
 * order (a re-created one is inserted again at the end, and a snapshot restores them in that
 * order), and a subscription's id in the topic's router is the log index of its Subscribe entry,
 * so fan-out order and snapshots are the same on every replica.
 *
 * @module
 */
import { type ByteReader, type ByteWriter, DecodeError } from "./binary.ts";
import { alreadyExists, BrokerError, invalidParameter } from "./errors.ts";
import { namePattern, subscriptionLimits } from "./limits.ts";
import type { PendingPush } from "./push_state.ts";
import { messageId } from "./receipt.ts";
import { SubscriptionState } from "./subscriptions.ts";
import {
  canonicalSubscription,
  resolveSubscription,
  resolveTopicCreate,
  resolveTopicUpdate,
  sameTopicAttributes,
} from "./topic_attributes.ts";
import { decodeSubscriptionCommand, decodeTopicCommand } from "./topic_commands.ts";
import { TopicRouter } from "./topic_router.ts";
import type { AppliedEntry, SubscriptionAttributes, TopicAttributes } from "./types.ts";
import type { Subscription, SubscriptionList, Topic, TopicList } from "../../sdk/protocol.ts";

/** What identifies a topic incarnation, and its attributes. */
export interface TopicMeta {
  name: string;
  /** Log index of the CreateTopic entry (message ids are made of it). */
  incarnation: number;
  attributes: TopicAttributes;
  createdAt: number;
  modifiedAt: number;
}

/** One topic: its subscriptions, in creation order, and their router. */
export class TopicState {
  meta: TopicMeta;
  readonly subscriptions = new Map<string, SubscriptionState>();
  /** By router id (the subscription's incarnation). */
  readonly byId = new Map<number, SubscriptionState>();
  readonly router: TopicRouter;
  /** The sequence of the next published message (ids are made of it). */
  nextSequence = 1;

  constructor(meta: TopicMeta) {
    this.meta = meta;
    this.router = new TopicRouter(meta.attributes.filterType);
  }

  /** Adds a subscription to the maps and the router. */
  attach(subscription: SubscriptionState): void {
    const { name, incarnation, attributes } = subscription.meta;
    this.subscriptions.set(name, subscription);
    this.byId.set(incarnation, subscription);
    this.router.add(incarnation, attributes);
  }

  detach(subscription: SubscriptionState): void {
    this.subscriptions.delete(subscription.meta.name);
    this.byId.delete(subscription.meta.incarnation);
    this.router.remove(subscription.meta.incarnation);
  }

  /** The id of message `sequence`. */
  messageId(sequence: number): string {
    return messageId(this.meta.incarnation, sequence);
  }

  view(): Topic {
    const { name, attributes, createdAt, modifiedAt } = this.meta;
    return {
      name,
      ...attributes,
      createdAt,
      modifiedAt,
      subscriptions: this.subscriptions.size,
      publishedMessages: this.nextSequence - 1,
    };
  }
}

/**
 * Apply results of the topic and subscription writes carry the view as of that entry: the
 * service answers with it, since reading the state after its proposal settled would show what
 * later entries of the same batch did (a delete: a 404 for a write that took effect).
 */
export interface TopicCreated {
  created: boolean;
  topic: Topic;
}
/** Apply result of UpdateTopic (see `TopicCreated`). */
export interface TopicUpdated {
  updated: true;
  topic: Topic;
}
/** Apply result of Subscribe (see `TopicCreated`). */
export interface SubscriptionCreated {
  created: boolean;
  subscription: Subscription;
}
/** Apply result of UpdateSubscription (see `TopicCreated`). */
export interface SubscriptionUpdated {
  updated: true;
  subscription: Subscription;
}

/** A URL subscription as the push worker addresses it. */
export interface PushTarget {
  topic: string;
  subscription: string;
  /** A recreated subscription has another incarnation; outcomes for the old one are ignored. */
  subscriptionIncarnation: number;
  url: string;
  format: "json" | "simplified";
  /**
   * The oldest pending push has failed before: a worker that starts serving this subscription
   * (a new leader's) sends it one request at a time until one succeeds, as the worker that saw
   * the failures did.
   */
  failing: boolean;
}

/** Listing options (prefix, then a page). */
export interface TopicListOptions {
  prefix?: string;
  offset?: number;
  limit: number;
}

/** The read side of the topics, for the service and the push worker. */
export interface TopicQueries {
  /** Topics the group holds. */
  readonly topicCount: number;
  /** Subscriptions of all its topics. */
  readonly subscriptionCount: number;
  getTopic(name: string): Topic | undefined;
  topicAttributes(name: string): TopicAttributes | undefined;
  listTopics(options: TopicListOptions): TopicList;
  getSubscription(topic: string, name: string): Subscription | undefined;
  subscriptionAttributes(topic: string, name: string): SubscriptionAttributes | undefined;
  /** Undefined when the topic does not exist. */
  listSubscriptions(topic: string, options: TopicListOptions): SubscriptionList | undefined;
  /**
   * The URL subscriptions with pushes pending, topics and subscriptions in creation order. Idle
   * ones are left out: the push worker reads this every pass, and a pass that visited every URL
   * subscription cost about 5 ms per 10,000 of them.
   */
  pushTargets(): PushTarget[];
  /** Up to `limit` pushes of `target` due at `now`, earliest first, none that `skip` names. */
  duePushes(
    target: PushTarget,
    now: number,
    options: { limit: number; skip: (sequence: number) => boolean },
  ): PendingPush[];
  /** When the earliest pending push of any subscription is due, or null. */
  nextPushAt(): number | null;
  /** Whether message `sequence` of `target` still waits for its attempt `attempt`. */
  pushPending(target: PushTarget, sequence: number, attempt: number): boolean;
  /** The id of message `sequence` of `topic`, or undefined when the topic is gone. */
  messageId(topic: string, sequence: number): string | undefined;
}

function notFound(topic: string): BrokerError {
  return new BrokerError("TopicNotFound", `topic '${topic}' does not exist`);
}

function checkTopicName(name: string): void {
  if (!namePattern.test(name)) throw invalidParameter("topic", "invalid topic name");
}

/** The topics of a group (see the module doc). */
export class TopicStore implements TopicQueries {
  readonly topics = new Map<string, TopicState>();

  get topicCount(): number {
    return this.topics.size;
  }

  get subscriptionCount(): number {
    let count = 0;
    for (const topic of this.topics.values()) count += topic.subscriptions.size;
    return count;
  }

  /** The topic; throws TopicNotFound. */
  topic(name: string): TopicState {
    const topic = this.topics.get(name);
    if (topic === undefined) throw notFound(name);
    return topic;
  }

  /** The subscription; throws TopicNotFound or SubscriptionNotFound. */
  subscription(topicName: string, name: string): SubscriptionState {
    const subscription = this.topic(topicName).subscriptions.get(name);
    if (subscription === undefined) {
      throw new BrokerError(
        "SubscriptionNotFound",
        `subscription '${name}' of topic '${topicName}' does not exist`,
      );
    }
    return subscription;
  }

  create(entry: AppliedEntry, now: number): TopicCreated {
    const command = decodeTopicCommand(entry.payload);
    checkTopicName(command.topic);
    const attributes = resolveTopicCreate(command.attributes);
    const existing = this.topics.get(command.topic);
    if (existing !== undefined) {
      if (sameTopicAttributes(existing.meta.attributes, attributes)) {
        return { created: false, topic: existing.view() };
      }
      throw alreadyExists("topic", command.topic);
    }
    const meta = { name: command.topic, incarnation: entry.index, attributes };
    const topic = new TopicState({ ...meta, createdAt: now, modifiedAt: now });
    this.topics.set(command.topic, topic);
    return { created: true, topic: topic.view() };
  }

  update(entry: AppliedEntry, now: number): TopicUpdated {
    const command = decodeTopicCommand(entry.payload);
    const topic = this.topic(command.topic);
    topic.meta.attributes = resolveTopicUpdate(topic.meta.attributes, command.attributes);
    topic.meta.modifiedAt = now;
    return { updated: true, topic: topic.view() };
  }

  delete(entry: AppliedEntry): { deleted: true } {
    const command = decodeTopicCommand(entry.payload);
    if (!this.topics.delete(command.topic)) throw notFound(command.topic);
    return { deleted: true };
  }

  /** Subscribe; `queueExists` checks a queue endpoint. */
  subscribe(
    entry: AppliedEntry,
    now: number,
    queueExists: (name: string) => boolean,
  ): SubscriptionCreated {
    const command = decodeSubscriptionCommand(entry.payload);
    const topic = this.topic(command.topic);
    if (!namePattern.test(command.subscription)) {
      throw invalidParameter("subscription", "invalid subscription name");
    }
    const attributes = resolveSubscription(
      undefined,
      command.attributes,
      topic.meta.attributes.filterType,
    );
    const existing = topic.subscriptions.get(command.subscription);
    if (existing !== undefined) {
      if (canonicalSubscription(existing.meta.attributes) === canonicalSubscription(attributes)) {
        return { created: false, subscription: existing.view(command.topic) };
      }
      throw alreadyExists("subscription", command.subscription);
    }
    if ("queue" in attributes.endpoint && !queueExists(attributes.endpoint.queue)) {
      throw invalidParameter(
        "endpoint.queue",
        `queue '${attributes.endpoint.queue}' does not exist`,
      );
    }
    if (topic.subscriptions.size >= subscriptionLimits.subscriptionsPerTopicMax) {
      throw invalidParameter(
        "subscription",
        `topic '${command.topic}' has ${subscriptionLimits.subscriptionsPerTopicMax} ` +
          "subscriptions, the most it may have",
      );
    }
    const subscription = new SubscriptionState({
      name: command.subscription,
      incarnation: entry.index,
      attributes,
      createdAt: now,
      modifiedAt: now,
    });
    topic.attach(subscription);
    return { created: true, subscription: subscription.view(command.topic) };
  }

  updateSubscription(entry: AppliedEntry, now: number): SubscriptionUpdated {
    const command = decodeSubscriptionCommand(entry.payload);
    const subscription = this.subscription(command.topic, command.subscription);
    const topic = this.topic(command.topic);
    const attributes = resolveSubscription(
      subscription.meta.attributes,
      command.attributes,
      topic.meta.attributes.filterType,
    );
    // Only the router changes: the maps keep the subscription at its creation-order place.
    topic.router.remove(subscription.meta.incarnation);
    subscription.meta.attributes = attributes;
    subscription.meta.modifiedAt = now;
    topic.router.add(subscription.meta.incarnation, attributes);
    return { updated: true, subscription: subscription.view(command.topic) };
  }

  unsubscribe(entry: AppliedEntry): { deleted: true } {
    const command = decodeSubscriptionCommand(entry.payload);
    const subscription = this.subscription(command.topic, command.subscription);
    this.topic(command.topic).detach(subscription);
    return { deleted: true };
  }

  /** Drops pending pushes older than their topic's retention (a Tick). */
  expire(now: number): void {
    for (const topic of this.topics.values()) {
      const cut = now - topic.meta.attributes.retentionSeconds * 1000;
      for (const subscription of topic.subscriptions.values()) {
        const expired = subscription.push?.expire(cut) ?? 0;
        subscription.failed += expired;
      }
    }
  }

  /** True when `expire(now)` has work. */
  needsExpiry(now: number): boolean {
    for (const topic of this.topics.values()) {
      const retentionMs = topic.meta.attributes.retentionSeconds * 1000;
      for (const subscription of topic.subscriptions.values()) {
        const oldest = subscription.push?.oldestPublishTime() ?? null;
        if (oldest !== null && oldest + retentionMs <= now) return true;
      }
    }
    return false;
  }

  /** The lowest log index a pending push points at (Infinity: none). */
  minLogIndex(): number {
    let lowest = Infinity;
    for (const topic of this.topics.values()) {
      for (const subscription of topic.subscriptions.values()) {
        lowest = Math.min(lowest, subscription.push?.minLogIndex() ?? Infinity);
      }
    }
    return lowest;
  }

  /** Bytes held (estimate). */
  memoryBytes(): number {
    let bytes = 0;
    for (const topic of this.topics.values()) {
      bytes += 1024;
      for (const subscription of topic.subscriptions.values()) {
        bytes += subscription.memoryBytes();
      }
    }
    return bytes;
  }

  getTopic(name: string): Topic | undefined {
    return this.topics.get(name)?.view();
  }

  topicAttributes(name: string): TopicAttributes | undefined {
    return this.topics.get(name)?.meta.attributes;
  }

  listTopics(options: TopicListOptions): TopicList {
    const { names, page } = pageOf([...this.topics.keys()], options);
    return { total: names.length, topics: page.map((name) => this.topics.get(name)!.view()) };
  }

  getSubscription(topic: string, name: string): Subscription | undefined {
    return this.topics.get(topic)?.subscriptions.get(name)?.view(topic);
  }

  subscriptionAttributes(topic: string, name: string): SubscriptionAttributes | undefined {
    return this.topics.get(topic)?.subscriptions.get(name)?.meta.attributes;
  }

  listSubscriptions(topicName: string, options: TopicListOptions): SubscriptionList | undefined {
    const topic = this.topics.get(topicName);
    if (topic === undefined) return undefined;
    const { names, page } = pageOf([...topic.subscriptions.keys()], options);
    return {
      total: names.length,
      subscriptions: page.map((name) => topic.subscriptions.get(name)!.view(topicName)),
    };
  }

  pushTargets(): PushTarget[] {
    const targets: PushTarget[] = [];
    for (const topic of this.topics.values()) {
      for (const subscription of topic.subscriptions.values()) {
        if (subscription.push === null || subscription.push.pending.size === 0) continue;
        const url = subscription.url!;
        targets.push({
          topic: topic.meta.name,
          subscription: subscription.meta.name,
          subscriptionIncarnation: subscription.meta.incarnation,
          url,
          format: subscription.format,
          failing: subscription.push.oldestFailed(),
        });
      }
    }
    return targets;
  }

  duePushes(
    target: PushTarget,
    now: number,
    options: { limit: number; skip: (sequence: number) => boolean },
  ): PendingPush[] {
    const subscription = this.topics.get(target.topic)?.subscriptions.get(target.subscription);
    if (subscription?.meta.incarnation !== target.subscriptionIncarnation) return [];
    return subscription.push?.due(now, options.limit, options.skip) ?? [];
  }

  pushPending(target: PushTarget, sequence: number, attempt: number): boolean {
    const subscription = this.topics.get(target.topic)?.subscriptions.get(target.subscription);
    if (subscription?.meta.incarnation !== target.subscriptionIncarnation) return false;
    return subscription.push?.pending.get(sequence)?.attempts === attempt;
  }

  nextPushAt(): number | null {
    let next = Infinity;
    for (const topic of this.topics.values()) {
      for (const subscription of topic.subscriptions.values()) {
        const push = subscription.push;
        if (push === null || push.pending.size === 0) continue;
        next = Math.min(next, push.nextAttemptAt() ?? Infinity);
      }
    }
    return next === Infinity ? null : next;
  }

  messageId(topic: string, sequence: number): string | undefined {
    return this.topics.get(topic)?.messageId(sequence);
  }

  /**
   * Snapshot form: `u32 topicCount`, per topic in creation order: `u16 len + name,
   * f64 incarnation, u8 filterType (1 tag, 2 routingKey), u32 maxMessageBytes,
   * u32 retentionSeconds, f64 createdAt, f64 modifiedAt, f64 nextSequence,
   * u32 subscriptionCount`, then each subscription (`SubscriptionState.write`). Routers are
   * rebuilt on read.
   */
  write(writer: ByteWriter): void {
    writer.u32(this.topics.size);
    for (const topic of this.topics.values()) {
      const meta = topic.meta;
      writer.string16(meta.name);
      writer.f64(meta.incarnation);
      writer.u8(meta.attributes.filterType === "tag" ? 1 : 2);
      writer.u32(meta.attributes.maxMessageBytes);
      writer.u32(meta.attributes.retentionSeconds);
      writer.f64(meta.createdAt);
      writer.f64(meta.modifiedAt);
      writer.f64(topic.nextSequence);
      writer.u32(topic.subscriptions.size);
      for (const subscription of topic.subscriptions.values()) subscription.write(writer);
    }
  }

  /** Inverse of `write`. */
  static read(reader: ByteReader): TopicStore {
    const store = new TopicStore();
    const count = reader.u32();
    for (let index = 0; index < count; index++) {
      const name = reader.string16();
      const incarnation = reader.uint();
      const filterCode = reader.u8();
      if (filterCode !== 1 && filterCode !== 2) throw new DecodeError(`topic '${name}': filter`);
      const attributes: TopicAttributes = {
        filterType: filterCode === 1 ? "tag" : "routingKey",
        maxMessageBytes: reader.u32(),
        retentionSeconds: reader.u32(),
      };
      const createdAt = reader.uint();
      const modifiedAt = reader.uint();
      const topic = new TopicState({ name, incarnation, attributes, createdAt, modifiedAt });
      topic.nextSequence = reader.uint();
      const subscriptionCount = reader.u32();
      for (let sub = 0; sub < subscriptionCount; sub++) {
        topic.attach(SubscriptionState.read(reader));
      }
      store.topics.set(name, topic);
    }
    return store;
  }
}

function pageOf(all: string[], options: TopicListOptions): { names: string[]; page: string[] } {
  const prefix = options.prefix ?? "";
  const names = all.filter((name) => name.startsWith(prefix)).sort();
  const offset = options.offset ?? 0;
  return { names, page: names.slice(offset, offset + options.limit) };
}
