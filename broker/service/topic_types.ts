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
  createTopic(name: string, attributes: TopicAttributesInput): Promise<CreateTopicResult>;
  listTopics(options: ListQueuesOptions): Promise<TopicList>;
  getTopic(name: string): Promise<Topic>;
  updateTopic(name: string, attributes: TopicAttributesInput): Promise<Topic>;
  deleteTopic(name: string): Promise<void>;
  publish(topic: string, messages: PublishEntry[]): Promise<PublishResponse>;
  subscribe(
    topic: string,
    name: string,
    attributes: SubscriptionAttributesInput,
  ): Promise<SubscribeResult>;
  listSubscriptions(topic: string, options: ListQueuesOptions): Promise<SubscriptionList>;
  getSubscription(topic: string, name: string): Promise<Subscription>;
  updateSubscription(
    topic: string,
    name: string,
    attributes: SubscriptionAttributesInput,
  ): Promise<Subscription>;
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

/** What the leader's push worker needs from the service. */
export interface PushSource {
  /** Every URL subscription. */
  pushTargets(): PushTarget[];
  /** Up to `limit` pushes of `target` due at `now`, earliest first, none that `skip` names. */
  duePushes(
    target: PushTarget,
    now: number,
    options: { limit: number; skip: (sequence: number) => boolean },
  ): PushDelivery[];
  /** When the earliest pending push is due, or null. */
  nextPushAt(): number | null;
  /** Proposes the outcomes (one replicated write); resolves once applied. */
  recordPushOutcomes(outcomes: PushOutcome[]): Promise<void>;
  /** Installs the listener told when a publish added pending pushes. */
  onPushPending(listener: () => void): void;
  /** Resolves once this node leads and has applied everything committed before the call. */
  barrier(): Promise<void>;
}
