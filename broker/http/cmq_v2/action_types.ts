/**
 * The shape of one CMQ action: the permission it needs and the translation it runs. The door
 * (`mod.ts`) parses, authenticates and authorizes; an action only reads its parameters, calls
 * the service and shapes CMQ's answer.
 *
 * @module
 */
import type { CmqParams } from "./params.ts";
import type { PermissionAction, QueueService, TopicService } from "./deps.ts";

/** What an action runs with. */
export interface ActionContext {
  service: QueueService;
  params: CmqParams;
  /** The queue the action names (`queueName`), already checked; "" for account actions. */
  queueName: string;
  /** Aborted when the client goes away (ends a long poll). */
  signal: AbortSignal;
  /** The `secretId` of the key that signed the request; absent without credentials. */
  keyId?: string;
}

/** One CMQ action. */
export interface CmqAction {
  /**
   * `queue`: the action names one queue in `queueName`, and the key needs
   * `queue:<queueName>:<permission>`. `account`: it reads every queue (ListQueue), and the key
   * needs the permission on all of them (`queue:*:<permission>` or `*`).
   */
  scope: "queue" | "account";
  permission: PermissionAction;
  /**
   * A long poll (the receives): a reload of the keys ends its wait, and a key taken away
   * meanwhile gets `accessDenied` instead of messages.
   */
  longPoll?: boolean;
  /** The members of a successful answer beside `code`, `message` and `requestId`. */
  run(context: ActionContext): Promise<Record<string, unknown>>;
}

/** What a topic action runs with. */
export interface TopicActionContext {
  topics: TopicService;
  params: CmqParams;
  /** The topic the action names (`topicName`), already checked; "" for ListTopic. */
  topicName: string;
  /**
   * With keys: throws (access denied) unless the caller's key may send to the queue. Given to
   * the service by actions that change a subscription's filter, which decides what goes into
   * its endpoint queue (see `TopicService.updateSubscription`).
   */
  mayWriteQueue?: (queue: string) => void;
}

/** One CMQ topic or subscription action. */
export interface CmqTopicAction {
  /**
   * `topic`: the action names one topic in `topicName`, and the key needs
   * `topic:<topicName>:<permission>`. `account`: it reads every topic (ListTopic), and the key
   * needs the permission on all of them.
   */
  scope: "topic" | "account";
  permission: PermissionAction;
  /**
   * Queues the action makes the topic write into (Subscribe with protocol queue): the key also
   * needs `queue:<name>:send` on each, or a topic manager could fill any queue.
   */
  queuesWritten?(params: CmqParams): string[];
  /** The members of a successful answer beside `code`, `message` and `requestId`. */
  run(context: TopicActionContext): Promise<Record<string, unknown>>;
}

/** Unix seconds of a cmqd time in milliseconds, as CMQ reports times. */
export function unixSeconds(milliseconds: number): number {
  return Math.floor(milliseconds / 1000);
}
