/**
 * The HTTP request of one push (README, "Topics"): a POST to the subscription's URL, shaped as
 * Tencent Cloud CMQ documents its HTTP push, so a callback written for CMQ reads it unchanged.
 *
 * - `json` (the default format): CMQ's fields `{TopicOwner, topicName, subscriptionName, msgId,
 *   msgBody, publishTime}`: `TopicOwner` the number 0 (no accounts; CMQ's example sends the owner's
 *   app id as a number), `publishTime` whole Unix seconds (CMQ types it Int, and every CMQ time is
 *   Unix seconds). cmqd adds `publishTimeMs` (the same instant in Unix epoch milliseconds, v1's
 *   unit), `msgTag` (the message's tags: an array, empty when it has none) and, on routing-key
 *   topics, `routingKey`.
 * - `simplified`: the raw body.
 *
 * Both formats are `content-type: text/plain; charset=utf-8`, as CMQ sends both. Headers on both:
 * `x-cmq-message-id`, `x-cmq-message-tag` (the tags as an HTTP list, `a, b` as in CMQ's example,
 * each percent-encoded as a URI component so that any tag fits a header and a comma inside a tag
 * can't be confused with the separator; absent when there are none), `x-cmq-routing-key` on
 * routing-key topics (percent-encoded the same way), `x-cmq-topic-name` and
 * `x-cmq-subscription-name` (names are letters, digits, `-` and `_`: they fit a header as they
 * are), `x-cmq-request-id` (see `requestId`), and `user-agent`. Every subscription of a topic
 * pushes a message with the same message id, and a `simplified` body names neither: the names in
 * the headers (or the request id) are what tells two subscriptions' pushes to one callback apart.
 *
 * @module
 */
import type { PushDelivery, PushTarget } from "../service/mod.ts";
import type { PushNotification } from "../../sdk/protocol.ts";

/** The `user-agent` of every push. */
export const pushUserAgent = "cmqd-push/1";

/**
 * `x-cmq-request-id`: `<message id>-<subscription incarnation>-<attempt>`, all replicated state,
 * so a repeat of one attempt (a new leader's after a failover) carries the same id, and another
 * attempt, or the push of the message to another subscription (or to a subscription deleted and
 * made again under its name), another. The incarnation is the log index of the subscription's
 * creation: unique in the group. Before, the id was message id and attempt only, the same for
 * every subscription, and a callback that de-duplicated on it dropped all but one of them.
 */
export function requestId(target: PushTarget, delivery: PushDelivery): string {
  return `${delivery.messageId}-${target.subscriptionIncarnation}-${delivery.attempt}`;
}

/** What `fetch` is called with. */
export interface PushRequest {
  url: string;
  init: { method: "POST"; headers: Record<string, string>; body: string };
}

/**
 * The request that pushes `delivery` to `target`.
 *
 * @example
 * ```ts
 * const { url, init } = pushRequest(target, delivery);
 * const response = await fetch(url, { ...init, signal });
 * ```
 */
export function pushRequest(target: PushTarget, delivery: PushDelivery): PushRequest {
  const headers: Record<string, string> = {
    "user-agent": pushUserAgent,
    "x-cmq-message-id": delivery.messageId,
    "x-cmq-request-id": requestId(target, delivery),
    "x-cmq-topic-name": target.topic,
    "x-cmq-subscription-name": target.subscription,
    "content-type": "text/plain; charset=utf-8",
  };
  if (delivery.tags.length > 0) {
    headers["x-cmq-message-tag"] = delivery.tags.map(encodeURIComponent).join(", ");
  }
  if (delivery.routingKey !== undefined) {
    headers["x-cmq-routing-key"] = encodeURIComponent(delivery.routingKey);
  }
  if (target.format === "simplified") {
    return { url: target.url, init: { method: "POST", headers, body: delivery.body } };
  }
  const notification: PushNotification = {
    TopicOwner: 0,
    topicName: target.topic,
    subscriptionName: target.subscription,
    msgId: delivery.messageId,
    msgBody: delivery.body,
    publishTime: Math.floor(delivery.publishTime / 1000),
    publishTimeMs: delivery.publishTime,
    msgTag: delivery.tags,
  };
  if (delivery.routingKey !== undefined) notification.routingKey = delivery.routingKey;
  return { url: target.url, init: { method: "POST", headers, body: JSON.stringify(notification) } };
}
