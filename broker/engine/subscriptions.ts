/**
 * One subscription of a topic: its attributes, its delivery counters, and for URL endpoints the
 * replicated push state (`push_state.ts`). Pure data plus its snapshot form and API view.
 *
 * Counters: `fannedOut` counts messages the subscription took (a copy enqueued, a push
 * scheduled); `delivered` counts messages handed to the endpoint (a copy enqueued into the queue,
 * or a 2xx push); `failed` counts messages the endpoint never got (a queue copy refused for a
 * full backlog, a too-large body or a missing queue; a push given up on). For URL endpoints the
 * push state counts attempts and drops in more detail.
 *
 * @module
 */
import type { ByteReader, ByteWriter } from "./binary.ts";
import { DecodeError } from "./binary.ts";
import { canonicalSubscription } from "./topic_attributes.ts";
import { PushState } from "./push_state.ts";
import type { PushFormat, RetryPolicy, SubscriptionAttributes } from "./types.ts";
import type { Subscription } from "../../sdk/protocol.ts";

/** What identifies a subscription and its attributes. */
export interface SubscriptionMeta {
  name: string;
  /** Log index of its Subscribe entry: the id the topic's router knows it by. */
  incarnation: number;
  attributes: SubscriptionAttributes;
  createdAt: number;
  modifiedAt: number;
}

/**
 * A subscription and its delivery state.
 *
 * @example
 * ```ts
 * const subscription = new SubscriptionState({ name: "risk", incarnation: 7,
 *   attributes: { endpoint: { queue: "risk" }, filterTags: ["paid"], bindingKeys: [] },
 *   createdAt: now, modifiedAt: now });
 * ```
 */
export class SubscriptionState {
  meta: SubscriptionMeta;
  fannedOut = 0;
  delivered = 0;
  failed = 0;
  /** Present exactly for URL endpoints. */
  readonly push: PushState | null;

  constructor(meta: SubscriptionMeta, push?: PushState) {
    this.meta = meta;
    this.push = "url" in meta.attributes.endpoint ? push ?? new PushState() : null;
  }

  /** The URL of a push subscription, else null. */
  get url(): string | null {
    const endpoint = this.meta.attributes.endpoint;
    return "url" in endpoint ? endpoint.url : null;
  }

  /** The queue of a queue subscription, else null. */
  get queue(): string | null {
    const endpoint = this.meta.attributes.endpoint;
    return "queue" in endpoint ? endpoint.queue : null;
  }

  /** The retry policy of a push subscription. */
  get retryPolicy(): RetryPolicy {
    return this.meta.attributes.retryPolicy ?? "exponentialDecay";
  }

  /** The push format of a push subscription. */
  get format(): PushFormat {
    return this.meta.attributes.format ?? "json";
  }

  /** The API view. */
  view(topic: string): Subscription {
    const { name, attributes, createdAt, modifiedAt } = this.meta;
    const view: Subscription = {
      name,
      topic,
      endpoint: { ...attributes.endpoint },
      filterTags: [...attributes.filterTags],
      bindingKeys: [...attributes.bindingKeys],
      createdAt,
      modifiedAt,
      fannedOutMessages: this.fannedOut,
      deliveredMessages: this.delivered,
      failedMessages: this.failed,
    };
    const push = this.push;
    if (push !== null) {
      view.retryPolicy = this.retryPolicy;
      view.format = this.format;
      view.pendingMessages = push.pending.size;
      view.oldestPendingAt = push.oldestPublishTime();
      view.nextAttemptAt = push.nextAttemptAt();
      view.lastError = push.lastError === null ? null : { ...push.lastError };
      view.push = { ...push.counters };
    }
    return view;
  }

  /** Bytes held (estimate). */
  memoryBytes(): number {
    return 512 + (this.push?.memoryBytes() ?? 0);
  }

  /**
   * Snapshot form: `u16 len + name, f64 incarnation, u32 len + attributes (canonical JSON
   * array, see `canonicalSubscription`), f64 createdAt, f64 modifiedAt, f64 fannedOut,
   * f64 delivered, f64 failed`, then the push state for URL endpoints (`PushState.write`).
   */
  write(writer: ByteWriter): void {
    const meta = this.meta;
    writer.string16(meta.name);
    writer.f64(meta.incarnation);
    writer.string32(canonicalSubscription(meta.attributes));
    writer.f64(meta.createdAt);
    writer.f64(meta.modifiedAt);
    writer.f64(this.fannedOut);
    writer.f64(this.delivered);
    writer.f64(this.failed);
    this.push?.write(writer);
  }

  /** Inverse of `write`. */
  static read(reader: ByteReader): SubscriptionState {
    const name = reader.string16();
    const incarnation = reader.uint();
    const attributes = parseCanonical(reader.string32(), name);
    const meta = {
      name,
      incarnation,
      attributes,
      createdAt: reader.uint(),
      modifiedAt: reader.uint(),
    };
    const fannedOut = reader.uint();
    const delivered = reader.uint();
    const failed = reader.uint();
    const push = "url" in attributes.endpoint ? PushState.read(reader) : undefined;
    const subscription = new SubscriptionState(meta, push);
    subscription.fannedOut = fannedOut;
    subscription.delivered = delivered;
    subscription.failed = failed;
    return subscription;
  }
}

function parseCanonical(text: string, name: string): SubscriptionAttributes {
  const bad = () => new DecodeError(`subscription '${name}': bad attributes`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw bad();
  }
  if (!Array.isArray(value) || value.length !== 5) throw bad();
  const [endpoint, filterTags, bindingKeys, retryPolicy, format] = value;
  const strings = (list: unknown) =>
    Array.isArray(list) && list.every((item) => typeof item === "string");
  if (!Array.isArray(endpoint) || typeof endpoint[1] !== "string") throw bad();
  if (!strings(filterTags) || !strings(bindingKeys)) throw bad();
  const attributes: SubscriptionAttributes = {
    endpoint: endpoint[0] === "url" ? { url: endpoint[1] } : { queue: endpoint[1] },
    filterTags,
    bindingKeys,
  };
  if (endpoint[0] === "url") {
    if (retryPolicy !== "backoff" && retryPolicy !== "exponentialDecay") throw bad();
    if (format !== "json" && format !== "simplified") throw bad();
    attributes.retryPolicy = retryPolicy;
    attributes.format = format;
  }
  return attributes;
}
