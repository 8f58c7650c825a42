/**
 * What applying each command answers, besides a `BrokerError` for an expected failure. The
 * service's one typed `propose` reads its result type here, so no call site casts.
 *
 * @module
 */
import type { Delivery, HandleFailure } from "./queue.ts";
import type { PublishResult, PushResultsResult } from "./topic_publish.ts";
import type {
  SubscriptionCreated,
  SubscriptionUpdated,
  TopicCreated,
  TopicUpdated,
} from "./topics.ts";
import { CommandType } from "./types.ts";
import type { Queue, RewindResponse, SentMessage } from "../../sdk/protocol.ts";

/**
 * Apply result of CreateQueue: the queue's view as of that entry (at its apply time). The
 * service answers with it, since reading the state after its proposal settled would show what
 * later entries of the same batch did (a delete: a 404 for a write that took effect).
 */
export interface CreateResult {
  created: boolean;
  queue: Queue;
}
/** Apply result of the UpdateQueue forms: the queue's view as of that entry (`CreateResult`). */
export interface UpdateResult {
  updated: true;
  queue: Queue;
}
/** Apply result of SendBatch. */
export interface SendResult {
  messages: SentMessage[];
}
/** Apply result of ReceiveBatch (`deleted`/`failures` when it carried handles to delete). */
export interface ReceiveResult {
  messages: Delivery[];
  deleted?: number;
  failures?: HandleFailure[];
}
/** Apply result of SendReceive: the send's, and each receive's deliveries in request order. */
export interface SendReceiveResult extends SendResult {
  receives: { messages: Delivery[] }[];
}
/** Apply result of DeleteBatch. */
export interface DeleteResult {
  deleted: number;
  failures: HandleFailure[];
}
/** Apply result of ChangeVisibility: the new `visibleAt` per successful entry index. */
export interface VisibilityResult {
  entries: { index: number; visibleAt: number }[];
  failures: HandleFailure[];
}

/**
 * What applying each command answers (besides a `BrokerError` for an expected failure). The
 * service's one typed `propose` reads its result type here, so no call site casts.
 */
export interface CommandResults {
  [CommandType.CreateQueue]: CreateResult;
  [CommandType.UpdateQueue]: UpdateResult;
  [CommandType.DeleteQueue]: { deleted: true };
  [CommandType.SendBatch]: SendResult;
  [CommandType.ReceiveBatch]: ReceiveResult;
  [CommandType.DeleteBatch]: DeleteResult;
  [CommandType.ChangeVisibility]: VisibilityResult;
  [CommandType.Rewind]: RewindResponse;
  [CommandType.RewindFromWindow]: RewindResponse;
  [CommandType.Purge]: { purged: number };
  [CommandType.Redrive]: { moved: number };
  [CommandType.RedriveOfCreated]: { moved: number };
  [CommandType.UpdateQueueKeepingPolicy]: UpdateResult;
  [CommandType.UpdateQueueWithRewindFloor]: UpdateResult;
  [CommandType.UpdateQueueBarringDeleted]: UpdateResult;
  [CommandType.RedriveInGroupOrder]: { moved: number };
  [CommandType.RedriveAfterHousekeeping]: { moved: number };
  [CommandType.TickInGroupOrder]: undefined;
  [CommandType.TickKeepingLocks]: undefined;
  [CommandType.Tick]: undefined;
  [CommandType.SetMember]: undefined;
  [CommandType.CreateTopic]: TopicCreated;
  [CommandType.UpdateTopic]: TopicUpdated;
  [CommandType.DeleteTopic]: { deleted: true };
  [CommandType.PublishBatch]: PublishResult;
  [CommandType.Subscribe]: SubscriptionCreated;
  [CommandType.UpdateSubscription]: SubscriptionUpdated;
  [CommandType.Unsubscribe]: { deleted: true };
  [CommandType.PushResults]: PushResultsResult;
  [CommandType.SendReceive]: SendReceiveResult;
}
