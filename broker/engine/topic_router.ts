/**
 * The fan-out index of one topic: which subscriptions take a published message. Replicas must
 * agree, so the answer depends only on the set of subscriptions, never on the order they were
 * added in: ids come back in ascending order, each at most once. The matching rules are in
 * `topic_filter.ts`.
 *
 * Tag topics keep tag → subscriptions plus the list of unfiltered subscriptions; routing-key
 * topics keep a word trie (`topic_routing_trie.ts`) plus the same unfiltered list. A match
 * touches only the tags or trie paths of the message, and allocates its result array (and, for
 * a routing key, the split words).
 *
 * @module
 */
import {
  type MessageRoute,
  splitKeyWords,
  type SubscriptionFilter,
  type TopicFilterType,
} from "./topic_filter.ts";
import { type RouteEntry, RoutingTrie, type TrieTerminal } from "./topic_routing_trie.ts";

/** A subscription as the router holds it: what it must undo on removal. */
interface Subscriber extends RouteEntry {
  /** Tag topics: the distinct filter tags; empty when unfiltered. */
  readonly tags: readonly string[];
  /** Routing-key topics: the distinct trie nodes where its keys end; empty when unfiltered. */
  readonly terminals: readonly TrieTerminal[];
}

/**
 * Which subscriptions of one topic take a message.
 *
 * @example
 * ```ts
 * const router = new TopicRouter("routingKey");
 * router.add(2, { bindingKeys: ["orders.#"] });
 * router.add(1, { bindingKeys: ["*.created", "orders.*"] });
 * router.add(3, {}); // no binding keys: takes everything
 * router.match({ routingKey: "orders.created" }); // [1, 2, 3]
 * router.match({ routingKey: "users.deleted" }); // [3]
 * ```
 */
export class TopicRouter {
  readonly #filterType: TopicFilterType;
  readonly #subscribers = new Map<number, Subscriber>();
  /** Subscriptions without a filter: they take every message. */
  readonly #unfiltered = new Set<Subscriber>();
  /** Tag topics: each filter tag to the subscriptions that list it. */
  readonly #byTag = new Map<string, Subscriber[]>();
  /** Routing-key topics: the binding keys. */
  readonly #trie = new RoutingTrie();
  /** Counts matches; a subscriber whose `matchedEpoch` equals it was already reported. */
  #epoch = 0;

  /** A router for a topic of `filterType`; it reads only that kind of filter and route. */
  constructor(filterType: TopicFilterType) {
    if (filterType !== "tag" && filterType !== "routingKey") {
      throw new Error(`topic router: unknown filter type ${String(filterType)}`);
    }
    this.#filterType = filterType;
  }

  /** The kind of filter this router reads. */
  get filterType(): TopicFilterType {
    return this.#filterType;
  }

  /** Subscriptions held. */
  get size(): number {
    return this.#subscribers.size;
  }

  /** Trie nodes held (1 when empty); tells memory use and that removal prunes. */
  get trieNodeCount(): number {
    return this.#trie.nodeCount;
  }

  /** Whether subscription `id` is held. */
  has(id: number): boolean {
    return this.#subscribers.has(id);
  }

  /**
   * Adds subscription `id` with its filter. The router keeps no reference to `filter`.
   * `id` must be a safe integer not held yet (a caller bug otherwise, so it throws); to change
   * a filter, {@link remove} then add.
   */
  add(id: number, filter: SubscriptionFilter): void {
    if (!Number.isSafeInteger(id)) throw new Error(`topic router: id ${id} is not a safe integer`);
    if (this.#subscribers.has(id)) throw new Error(`topic router: subscription ${id} already held`);
    const subscriber = this.#filterType === "tag"
      ? this.#indexTags(id, filter.filterTags ?? [])
      : this.#indexBindingKeys(id, filter.bindingKeys ?? []);
    this.#subscribers.set(id, subscriber);
  }

  /** Removes subscription `id`; returns whether it was held. */
  remove(id: number): boolean {
    const subscriber = this.#subscribers.get(id);
    if (subscriber === undefined) return false;
    this.#subscribers.delete(id);
    this.#unfiltered.delete(subscriber);
    for (const tag of subscriber.tags) this.#unlistTag(tag, subscriber);
    this.#trie.release(subscriber, subscriber.terminals);
    return true;
  }

  /**
   * The ids of the subscriptions that take `message`, ascending, each once. Reads `tags` on a
   * tag topic and `routingKey` on a routing-key topic.
   */
  match(message: MessageRoute): readonly number[] {
    const epoch = ++this.#epoch;
    const output: number[] = [];
    for (const subscriber of this.#unfiltered) output.push(subscriber.id);
    if (this.#filterType === "tag") this.#collectTags(message.tags ?? [], epoch, output);
    else this.#trie.collect(splitKeyWords(message.routingKey ?? ""), epoch, output);
    // Sets and maps iterate in insertion order, which differs between replicas that replayed
    // different histories; the sort makes the answer a function of the subscriptions alone.
    return output.sort(ascending);
  }

  #indexTags(id: number, filterTags: readonly string[]): Subscriber {
    const tags = [...new Set(filterTags)];
    const subscriber: Subscriber = { id, matchedEpoch: 0, tags, terminals: [] };
    if (tags.length === 0) this.#unfiltered.add(subscriber);
    for (const tag of tags) {
      const listed = this.#byTag.get(tag);
      if (listed === undefined) this.#byTag.set(tag, [subscriber]);
      else listed.push(subscriber);
    }
    return subscriber;
  }

  #indexBindingKeys(id: number, bindingKeys: readonly string[]): Subscriber {
    const terminals: TrieTerminal[] = [];
    const subscriber: Subscriber = { id, matchedEpoch: 0, tags: [], terminals };
    if (bindingKeys.length === 0) this.#unfiltered.add(subscriber);
    for (const key of bindingKeys) {
      // Equal keys (or `a.#` and `a.#.#`) end at one node; keep it once so removal is exact.
      const terminal = this.#trie.insert(subscriber, key);
      if (!terminals.includes(terminal)) terminals.push(terminal);
    }
    return subscriber;
  }

  #unlistTag(tag: string, subscriber: Subscriber): void {
    const listed = this.#byTag.get(tag);
    const position = listed?.indexOf(subscriber) ?? -1;
    if (listed === undefined || position < 0) {
      throw new Error(`topic router: subscription ${subscriber.id} missing from tag ${tag}`);
    }
    listed.splice(position, 1);
    if (listed.length === 0) this.#byTag.delete(tag);
  }

  #collectTags(tags: readonly string[], epoch: number, output: number[]): void {
    for (const tag of tags) {
      const listed = this.#byTag.get(tag);
      if (listed === undefined) continue;
      for (const subscriber of listed) {
        // A subscription listing two of the message's tags is reported for the first only.
        if (subscriber.matchedEpoch === epoch) continue;
        subscriber.matchedEpoch = epoch;
        output.push(subscriber.id);
      }
    }
  }
}

function ascending(left: number, right: number): number {
  return left - right;
}
