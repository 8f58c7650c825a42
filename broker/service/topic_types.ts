/**
 * The topic contracts of the service: what the doors call (`TopicService`) and what the push
 * worker of the leader reads and reports through (`PushSource`). Both are implemented by
 * `EngineTopicService` over one replication group.
 *
 * @module
 */
import type { PushOutcome, PushTarget } from "../engine/mod.ts";
import type {
  PublishEntry,
  PublishResponse,
  Subscription,
  SubscriptionAttributesInput,
  SubscriptionList,
  Topic,
  TopicAttributesInput,
  TopicList,
} from "../../sdk/protocol.ts";
import type { ListQueuesOptions } from "./types.ts";

/** The result of a create: `created` is false when an identical one already existed. */
export interface CreateTopicResult {
  topic: Topic;
  created: boolean;
}

/** The result of a subscribe: `created` is false when an identical one already existed. */
export interface SubscribeResult {
  subscription: Subscription;
  created: boolean;
}

/** The topics as the doors see them. All methods may throw `BrokerError`. */
export interface TopicService {
  /** Creates a topic; idempotent with equal attributes, `TopicAlreadyExists` otherwise. */
  createTopic(name: string, attributes: TopicAttributesInput): Promise<CreateTopicResult>;
  /** Topics by name, filtered by prefix, paged. */
  listTopics(options: ListQueuesOptions): Promise<TopicList>;
  /** A topic's attributes and counts. */
  getTopic(name: string): Promise<Topic>;
  /** Changes `maxMessageBytes` or `retentionSeconds` (`filterType` is immutable). */
  updateTopic(name: string, attributes: TopicAttributesInput): Promise<Topic>;
  /** Deletes a topic, its subscriptions and their pending pushes. */
  deleteTopic(name: string): Promise<void>;
  /** Publishes a batch as one replicated write, fanned out to every matching subscription. */
  publish(topic: string, messages: PublishEntry[]): Promise<PublishResponse>;
  /** Subscribes a queue or a URL; idempotent with equal attributes. */
  subscribe(
    topic: string,
    name: string,
    attributes: SubscriptionAttributesInput,
  ): Promise<SubscribeResult>;
  /** A topic's subscriptions by name, filtered by prefix, paged. */
  listSubscriptions(topic: string, options: ListQueuesOptions): Promise<SubscriptionList>;
  /** A subscription with its counts and, for URLs, its push state. */
  getSubscription(topic: string, name: string): Promise<Subscription>;
  /**
   * Changes filters, retry policy or format (the endpoint is immutable). A change of the filter
   * of a subscription whose endpoint is a queue decides what goes into that queue, as
   * subscribing with that filter does: `mayWriteQueue` (a door that checks keys gives it) is
   * asked about the queue first and throws to refuse. The check reads the subscription as this
   * node has it, so the write then names the endpoint it saw: should the subscription have been
   * made again meanwhile with another endpoint, the write is refused (400, the endpoint is
   * immutable) rather than applied to a queue nobody checked.
   */
  updateSubscription(
    topic: string,
    name: string,
    attributes: SubscriptionAttributesInput,
    mayWriteQueue?: (queue: string) => void,
  ): Promise<Subscription>;
  /** Removes a subscription and its pending pushes. */
  unsubscribe(topic: string, name: string): Promise<void>;
}

/** One push to make: the pending push and the message read back from the log. */
export interface PushDelivery {
  sequence: number;
  /** The attempt count it has now; its outcome must name it (stale outcomes are ignored). */
  attempt: number;
  messageId: string;
  body: string;
  tags: string[];
  routingKey?: string;
  publishTime: number;
}

/** Options of `PushSource.duePushes`. */
export interface DuePushOptions {
  limit: number;
  skip: (sequence: number) => boolean;
  bodyBytesMax?: number;
  /** Told of a due push whose message can't be read (it is left out; see `duePushes`). */
  unreadable?: (push: { sequence: number; attempt: number }, error: unknown) => void;
}

/** What the leader's push worker needs from the service. */
export interface PushSource {
  /** The URL subscriptions with pushes pending (idle ones are left out). */
  pushTargets(): PushTarget[];
  /**
   * Up to `limit` pushes of `target` due at `now`, earliest first, none that `skip` names; with
   * `bodyBytesMax`, no more than fit in that many bytes of UTF-8 bodies (but always one).
   *
   * A message whose body can't be read back: a read that failed the replica (damage found, an
   * I/O error) throws, and nothing more is read. Any other failure is the one message's: with
   * `unreadable`, it is told of it and left out, and the others are read; without, it throws.
   */
  duePushes(
    target: PushTarget,
    now: number,
    options: DuePushOptions,
  ): PushDelivery[];
  /** When the earliest pending push is due, or null. */
  nextPushAt(): number | null;
  /**
   * Whether message `sequence` of `target` still waits for its attempt `attempt`: false once
   * the subscription is gone (or another incarnation) or the push was settled or expired.
   */
  pushPending(target: PushTarget, sequence: number, attempt: number): boolean;
  /** Proposes the outcomes (one replicated write); resolves once applied. */
  recordPushOutcomes(outcomes: PushOutcome[]): Promise<void>;
  /** Installs the listener told when a publish added pending pushes. */
  onPushPending(listener: () => void): void;
  /** Resolves once this node leads and has applied everything committed before the call. */
  barrier(): Promise<void>;
}
