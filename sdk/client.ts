/**
 * A typed client of the native v1 API. It runs unchanged in Deno, Node ≥ 20 and browsers: the
 * bytes move through an `HttpTransport` — `fetch`, or `node:http` keep-alive agents when it runs
 * in Node (see `transport.ts`). One method per endpoint, named like the broker's `QueueService`.
 *
 * Failures reject with `CmqdError`. The client retries on its own only when a retry can't do
 * harm: 503 `NoLeader` / `NotReady` saying the broker did not take the request (`Retry-After` is
 * honoured up to 30 s, never below the back-off) and connections that were never made (refused, unknown host) on every call; a 503
 * that may have taken effect ("outcome unknown", a forward cut by a leader change) only on calls
 * that are safe to repeat, like a lost answer;
 * network errors or timeouts after the request may have been sent only on calls that are safe
 * to repeat — reads, `createQueue`, `createTopic` and `subscribe` (idempotent with the same
 * attributes), message deletes and visibility changes (a repeat changes nothing more; it may
 * report the handle as stale), and sends whose every message carries a `dedupId` (no attempt
 * of those starts later than 240 s after the first one that may have stored them: the broker's
 * dedup window is 300 s; the call fails with the last error instead). A publish is
 * never repeated after a lost answer (topics have no dedup). Back-off is exponential with
 * jitter, bounded by `retry`: by default a call retries for up to 10 s after its first failed
 * attempt, long enough to ride out a leader election (a refused connection to the dead leader,
 * then `NoLeader` until a new one is elected, 1–2 s later), and a cluster down for good fails
 * the call once those 10 s are spent (see `RetryOptions`).
 *
 * `baseUrl` may list several nodes: a call that gets no answer moves on to the next one, and so
 * does any call a node refuses with 503 `NodeRemoved` (it was removed from the cluster and serves
 * nothing; it is avoided for 10 s); at once where the request never reached the node, until every
 * node failed in a row: the next round waits for the back-off.
 * Responses carry `x-cmqd-leader`; the client remembers it and sends later requests straight
 * to the leader, falling back to the listed nodes when the leader can't be reached.
 *
 * A node that accepts a request and then says nothing (a frozen process: SIGSTOP, a paused VM)
 * is noticed after `headTimeoutMs` (5 s) without a response head, not `timeoutMs` (30 s), when
 * another node is known: a call safe to repeat (above) moves on to another node at once; any
 * other call asks that node's `/healthz` and fails with `Timeout` ("may or may not have taken
 * effect") only if it gets no answer either; a node that is alive but slow is waited for. The
 * silent node is avoided for 10 s, even where a hint still names it (past a call's own shorter
 * `headTimeoutMs` only, once it happens twice in a row: one slow answer is no frozen node).
 *
 * @module
 */
import { CmqdError } from "./errors.ts";
import type {
  ChangeVisibilityResponse,
  ClusterInfo,
  DeleteMessagesResponse,
  PublishEntry,
  PublishResponse,
  PurgeResponse,
  Queue,
  QueueAttributesInput,
  QueueList,
  ReceiveMessagesRequest,
  ReceiveMessagesResponse,
  RedriveRequest,
  RedriveResponse,
  RewindRequest,
  RewindResponse,
  SendMessageEntry,
  SendMessagesResponse,
  Subscription,
  SubscriptionAttributesInput,
  SubscriptionList,
  Topic,
  TopicAttributesInput,
  TopicList,
  VisibilityEntry,
} from "./protocol.ts";
import { callOf, type CallOptions, type CmqdClientOptions, Requester } from "./requester.ts";

export type { CallOptions, CmqdClientOptions, Credentials } from "./requester.ts";

const waitSecondsMax = 30;
/**
 * How long after its first attempt that may have stored it a deduplicated send is still
 * repeated: the broker's dedup window (300 s, in cluster time, which may run up to 1% fast while
 * it catches up after an outage) less a minute for the attempt's own way into the log (a
 * forward held through an election, a slow answer). A later repeat could store a second copy.
 */
const dedupRepeatMsMax = 240_000;

/**
 * The native v1 client.
 *
 * @example
 * ```ts
 * const client = new CmqdClient({ baseUrl: ["http://10.0.0.1:8080", "http://10.0.0.2:8080"] });
 * await client.createQueue("orders", { visibilityTimeoutSeconds: 60 });
 * await client.sendMessages("orders", [{ body: "hello" }]);
 * const { messages } = await client.receiveMessages("orders", { waitSeconds: 5 });
 * await client.deleteMessages("orders", messages.map((m) => m.receiptHandle));
 * client.close();
 * ```
 */
export class CmqdClient {
  readonly #requester: Requester;

  constructor(options: CmqdClientOptions) {
    this.#requester = new Requester(options);
  }

  /** The leader base URL the client currently sends to, if it learned one. */
  get leaderUrl(): string | undefined {
    return this.#requester.leaderUrl;
  }

  /** The node calls go to when no leader is known. */
  get nodeUrl(): string {
    return this.#requester.nodeUrl;
  }

  /** How long an attempt may take (`timeoutMs`; calls may set their own). */
  get timeoutMs(): number {
    return this.#requester.timeoutMs;
  }

  /**
   * How long an attempt waits for a response head before it takes the node for frozen, when
   * another node is known (`headTimeoutMs`; calls may set their own).
   */
  get headTimeoutMs(): number {
    return this.#requester.headTimeoutMs;
  }

  /** Drops pooled connections (the Node transport's keep-alive sockets). */
  close(): void {
    this.#requester.close();
  }

  /** Creates `name`; `created` is false when an identical queue existed (409 if different). */
  async createQueue(
    name: string,
    attributes: QueueAttributesInput = {},
    options: CallOptions = {},
  ): Promise<{ queue: Queue; created: boolean }> {
    const answer = await this.#requester.request({
      method: "PUT",
      path: queuePath(name),
      body: attributes,
      repeatable: true,
      ...callOf(options),
    });
    return { queue: answer.body as Queue, created: answer.status === 201 };
  }

  /** A page of queues, by name. */
  async listQueues(page: ListOptions = {}, options: CallOptions = {}): Promise<QueueList> {
    return await this.#requester.json({
      method: "GET",
      path: `/v1/queues${pageQuery(page)}`,
      repeatable: true,
      ...callOf(options),
    });
  }

  /** Attributes and live counts of `name`. */
  async getQueue(name: string, options: CallOptions = {}): Promise<Queue> {
    return await this.#requester.json({
      method: "GET",
      path: queuePath(name),
      repeatable: true,
      ...callOf(options),
    });
  }

  /** Changes mutable attributes; `deadLetter: null` removes the policy. */
  async updateQueue(
    name: string,
    attributes: QueueAttributesInput,
    options: CallOptions = {},
  ): Promise<Queue> {
    return await this.#requester.json({
      method: "PATCH",
      path: queuePath(name),
      body: attributes,
      repeatable: false,
      ...callOf(options),
    });
  }

  /** Deletes `name` and its messages. */
  async deleteQueue(name: string, options: CallOptions = {}): Promise<void> {
    await this.#requester.request({
      method: "DELETE",
      path: queuePath(name),
      repeatable: false,
      response: "none",
      ...callOf(options),
    });
  }

  /** Sends a batch; ids and sequences come back in request order. */
  async sendMessages(
    queue: string,
    messages: SendMessageEntry[],
    options: CallOptions = {},
  ): Promise<SendMessagesResponse> {
    return await this.#requester.json({
      method: "POST",
      path: `${queuePath(queue, "queue")}/messages`,
      body: { messages },
      // With a dedupId on every message a repeat enqueues nothing new, inside the dedup window.
      repeatable: messages.length > 0 && messages.every((message) => message.dedupId !== undefined),
      repeatableWithinMs: dedupRepeatMsMax,
      ...callOf(options),
    });
  }

  /**
   * Receives (and locks) up to `maxMessages`, long-polling up to `waitSeconds`. The request's
   * timeouts (`timeoutMs`, `headTimeoutMs`) are the call's plus the wait, so a long poll is never
   * cut short by the client. Not repeated after a lost answer: the lost messages would stay
   * locked for nothing (until their visibility timeout), and the caller should know it.
   */
  async receiveMessages(
    queue: string,
    request: ReceiveMessagesRequest = {},
    options: CallOptions = {},
  ): Promise<ReceiveMessagesResponse> {
    const waitSeconds = request.waitSeconds ?? waitSecondsMax;
    // The wait the timeouts allow for: none for a value the broker refuses at once (NaN or a
    // string would make them NaN, never armed).
    const waitMs =
      Number.isInteger(waitSeconds) && waitSeconds >= 0 && waitSeconds <= waitSecondsMax
        ? waitSeconds * 1000
        : 0;
    const call = callOf(options);
    return await this.#requester.json({
      method: "POST",
      path: `${queuePath(queue, "queue")}/messages/receive`,
      body: request,
      repeatable: false,
      signal: call.signal,
      timeoutMs: (call.timeoutMs ?? this.#requester.timeoutMs) + waitMs,
      headTimeoutMs: (call.headTimeoutMs ?? this.#requester.headTimeoutMs) + waitMs,
      waitMs,
    });
  }

  /**
   * Deletes received messages; stale or invalid handles are reported in `failures`, as the
   * broker answers them. A stale handle whose message is no longer in the queue (deleted, say by
   * a lost attempt of this very call, expired, dead-lettered, purged) carries `gone: true`.
   */
  async deleteMessages(
    queue: string,
    receiptHandles: string[],
    options: CallOptions = {},
  ): Promise<DeleteMessagesResponse> {
    return await this.#requester.json({
      method: "POST",
      path: `${queuePath(queue, "queue")}/messages/delete`,
      body: { receiptHandles },
      // A repeat deletes nothing more; a handle deleted by the lost attempt reports stale, gone.
      repeatable: true,
      ...callOf(options),
    });
  }

  /** Extends or releases (0) the locks of received messages. */
  async changeVisibility(
    queue: string,
    entries: VisibilityEntry[],
    options: CallOptions = {},
  ): Promise<ChangeVisibilityResponse> {
    return await this.#requester.json({
      method: "POST",
      path: `${queuePath(queue, "queue")}/messages/visibility`,
      body: { entries },
      // A repeat sets the same lock again, measured from a moment later.
      repeatable: true,
      ...callOf(options),
    });
  }

  /** Moves the read position back to a timestamp or sequence inside the rewind window. */
  async rewind(
    queue: string,
    request: RewindRequest,
    options: CallOptions = {},
  ): Promise<RewindResponse> {
    return await this.#requester.json({
      method: "POST",
      path: `${queuePath(queue, "queue")}/rewind`,
      body: request,
      repeatable: false,
      ...callOf(options),
    });
  }

  /** Deletes every message of `queue`. */
  async purge(queue: string, options: CallOptions = {}): Promise<PurgeResponse> {
    return await this.#requester.json({
      method: "POST",
      path: `${queuePath(queue, "queue")}/purge`,
      repeatable: false,
      ...callOf(options),
    });
  }

  /** Moves messages of a dead-letter queue back to their origin (or `destination`). */
  async redrive(
    queue: string,
    request: RedriveRequest = {},
    options: CallOptions = {},
  ): Promise<RedriveResponse> {
    return await this.#requester.json({
      method: "POST",
      path: `${queuePath(queue, "queue")}/redrive`,
      body: request,
      repeatable: false,
      ...callOf(options),
    });
  }

  /** `GET /healthz`: resolves when the node answers. */
  async health(options: CallOptions = {}): Promise<{ status: string }> {
    return await this.#requester.json({
      method: "GET",
      path: "/healthz",
      repeatable: true,
      ...callOf(options),
    });
  }

  /** `GET /readyz`: true when the node serves writes, false while it is not ready. */
  async ready(options: CallOptions = {}): Promise<boolean> {
    try {
      await this.#requester.request({
        method: "GET",
        path: "/readyz",
        repeatable: true,
        retryUnavailable: false,
        ...callOf(options),
      });
      return true;
    } catch (error) {
      if (error instanceof CmqdError && error.code === "NotReady") return false;
      throw error;
    }
  }

  /** `GET /v1/cluster`: nodes, roles, leader and commit indexes. */
  async cluster(options: CallOptions = {}): Promise<ClusterInfo> {
    return await this.#requester.json({
      method: "GET",
      path: "/v1/cluster",
      repeatable: true,
      ...callOf(options),
    });
  }

  /** `GET /metrics`: the Prometheus text. */
  async metrics(options: CallOptions = {}): Promise<string> {
    const answer = await this.#requester.request({
      method: "GET",
      path: "/metrics",
      repeatable: true,
      response: "text",
      ...callOf(options),
    });
    return answer.body as string;
  }

  // Topics (README "Topics"). PUT and GET are safe to repeat; a publish is not (no dedup).

  /** Creates a topic; `created` is false when an identical one existed (409 if different). */
  async createTopic(
    name: string,
    attributes: TopicAttributesInput = {},
    options: CallOptions = {},
  ): Promise<{ topic: Topic; created: boolean }> {
    const answer = await this.#requester.request({
      method: "PUT",
      path: topicPath(name),
      body: attributes,
      repeatable: true,
      ...callOf(options),
    });
    return { topic: answer.body as Topic, created: answer.status === 201 };
  }

  /** Attributes and counts of a topic. */
  async getTopic(name: string, options: CallOptions = {}): Promise<Topic> {
    return await this.#read(topicPath(name), options);
  }

  /** A page of topics, by name. */
  async listTopics(page: ListOptions = {}, options: CallOptions = {}): Promise<TopicList> {
    return await this.#read(`/v1/topics${pageQuery(page)}`, options);
  }

  /** Changes `maxMessageBytes` or `retentionSeconds` (`filterType` is immutable). */
  async updateTopic(
    name: string,
    attributes: TopicAttributesInput,
    options: CallOptions = {},
  ): Promise<Topic> {
    return await this.#write("PATCH", topicPath(name), attributes, options);
  }

  /** Deletes a topic, its subscriptions and their pending pushes. */
  async deleteTopic(name: string, options: CallOptions = {}): Promise<void> {
    await this.#delete(topicPath(name), options);
  }

  /** Publishes a batch; per message its id, how many took it, and which refused it. */
  async publish(
    topic: string,
    messages: PublishEntry[],
    options: CallOptions = {},
  ): Promise<PublishResponse> {
    return await this.#write(
      "POST",
      `${topicPath(topic, "topic")}/messages`,
      { messages },
      options,
    );
  }

  /** Subscribes a queue or a URL; `created` is false when an identical one existed. */
  async subscribe(
    topic: string,
    name: string,
    attributes: SubscriptionAttributesInput,
    options: CallOptions = {},
  ): Promise<{ subscription: Subscription; created: boolean }> {
    const answer = await this.#requester.request({
      method: "PUT",
      path: subscriptionPath(topic, name),
      body: attributes,
      repeatable: true,
      ...callOf(options),
    });
    return { subscription: answer.body as Subscription, created: answer.status === 201 };
  }

  /** A subscription; URL ones include pending pushes, the last error and the next attempt. */
  async getSubscription(
    topic: string,
    name: string,
    options: CallOptions = {},
  ): Promise<Subscription> {
    return await this.#read(subscriptionPath(topic, name), options);
  }

  /** A page of a topic's subscriptions, by name. */
  async listSubscriptions(
    topic: string,
    page: ListOptions = {},
    options: CallOptions = {},
  ): Promise<SubscriptionList> {
    return await this.#read(
      `${topicPath(topic, "topic")}/subscriptions${pageQuery(page)}`,
      options,
    );
  }

  /** Changes filters, retry policy or format (the endpoint is immutable). */
  async updateSubscription(
    topic: string,
    name: string,
    attributes: SubscriptionAttributesInput,
    options: CallOptions = {},
  ): Promise<Subscription> {
    return await this.#write("PATCH", subscriptionPath(topic, name), attributes, options);
  }

  /** Removes a subscription and its pending pushes. */
  async unsubscribe(topic: string, name: string, options: CallOptions = {}): Promise<void> {
    await this.#delete(subscriptionPath(topic, name), options);
  }

  /** A GET: safe to repeat. */
  async #read<T>(path: string, options: CallOptions): Promise<T> {
    return await this.#requester.json({
      method: "GET",
      path,
      repeatable: true,
      ...callOf(options),
    });
  }

  /** A PATCH or POST that must not be sent twice blindly. */
  async #write<T>(
    method: "PATCH" | "POST",
    path: string,
    body: unknown,
    options: CallOptions,
  ): Promise<T> {
    return await this.#requester.json({
      method,
      path,
      body,
      repeatable: false,
      ...callOf(options),
    });
  }

  async #delete(path: string, options: CallOptions): Promise<void> {
    await this.#requester.request({
      method: "DELETE",
      path,
      repeatable: false,
      response: "none",
      ...callOf(options),
    });
  }
}

/** A page of a listing. */
export interface ListOptions {
  /** Only names that start with it. */
  prefix?: string;
  /** Names to skip. */
  offset?: number;
  /** Names to answer at most. */
  limit?: number;
}

function pageQuery(page: ListOptions): string {
  const query = new URLSearchParams();
  if (page.prefix !== undefined) query.set("prefix", page.prefix);
  if (page.offset !== undefined) query.set("offset", String(page.offset));
  if (page.limit !== undefined) query.set("limit", String(page.limit));
  return query.size === 0 ? "" : `?${query}`;
}

function topicPath(name: string, field = "name"): string {
  return `/v1/topics/${pathSegment(name, field)}`;
}

function subscriptionPath(topic: string, name: string): string {
  return `${topicPath(topic, "topic")}/subscriptions/${pathSegment(name, "name")}`;
}

function queuePath(name: string, field = "name"): string {
  return `/v1/queues/${pathSegment(name, field)}`;
}

/**
 * `name` as one path segment. `.` and `..` can't be one: every URL parser folds them into
 * another path (`/v1/queues/..` is `/v1/`), which the broker would answer with a confusing
 * `NotFound`; no name the broker accepts looks like that, so they are refused here.
 */
function pathSegment(name: string, field: string): string {
  if (name === "." || name === "..") {
    throw new CmqdError("InvalidParameter", `${field}: '${name}' is not a name`, {
      status: 0,
      field,
    });
  }
  return encodeURIComponent(name);
}
