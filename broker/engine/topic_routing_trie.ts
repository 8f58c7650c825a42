/**
 * A trie over the words of binding keys that finds every key matching a routing key in one
 * pass over the routing key's words, whatever the number of subscriptions.
 *
 * The walk is a breadth-first simulation of the trie read as an automaton: after `i` words the
 * active nodes are exactly the key prefixes that match the first `i` words. A `#` node stays
 * active while it absorbs further words, and activating any node also activates its `#` child
 * (`#` matching zero words). Each node enters the active list at most once per step (a stamp
 * says so), so a match costs O(words × active nodes) however the `#`s are placed; a recursive
 * backtracking walk would instead explode on keys like `#.a.#.a.#.a.#.a`.
 *
 * Consecutive `#` words collapse into one when a key is added (`a.#.#.b` is stored as
 * `a.#.b`): the two patterns match the same routing keys.
 *
 * @module
 */
import { multiWordWildcard, singleWordWildcard, splitKeyWords } from "./topic_filter.ts";

/**
 * One subscription as the indexes hold it. `matchedEpoch` lets a match report a subscription
 * once even when several of its keys (or tags) match, without a per-match set.
 */
export interface RouteEntry {
  /** The subscription's id, chosen by the caller. */
  readonly id: number;
  /** The epoch of the last match that reported this entry. */
  matchedEpoch: number;
}

/**
 * Where one binding key ends in a {@link RoutingTrie}: a handle that only the trie reads (the
 * brand keeps other objects from passing for one).
 */
export interface TrieTerminal {
  /** Never present at run time; a type-level brand. */
  readonly trieTerminalBrand: never;
}

/** A trie node: the key prefix spelled by the edges from the root to here. */
class TrieNode {
  /** Literal words to children; null until the first one, since most nodes are leaves. */
  children: Map<string, TrieNode> | null = null;
  /** The `*` child. */
  star: TrieNode | null = null;
  /** The `#` child. */
  hash: TrieNode | null = null;
  /** Subscriptions with a binding key that ends here; each at most once. */
  entries: RouteEntry[] = [];
  /** The walk step that last activated this node (see `RoutingTrie.collect`). */
  activeStamp = 0;
  /** Reached through a `#` edge, so it may absorb more words. */
  readonly isHash: boolean;

  constructor(
    readonly parent: TrieNode | null,
    /** The edge from the parent: a literal word, `*` or `#`. */
    readonly word: string,
  ) {
    this.isHash = parent !== null && word === multiWordWildcard;
  }

  get isEmpty(): boolean {
    return this.entries.length === 0 && this.children === null && this.star === null &&
      this.hash === null;
  }
}

/**
 * The binding keys of one routing-key topic.
 *
 * @example
 * ```ts
 * const trie = new RoutingTrie();
 * const entry = { id: 7, matchedEpoch: 0 };
 * const terminals = trie.insert(entry, "orders.#");
 * const output: number[] = [];
 * trie.collect(["orders", "eu"], 1, output); // output = [7]
 * trie.release(entry, terminals);
 * ```
 */
export class RoutingTrie {
  #root = new TrieNode(null, "");
  #nodeCount = 1;
  /** Stamps walk steps; it only grows, so a stamp from an older match never looks current. */
  #stepStamp = 0;
  // Scratch lists of active nodes, reused by every collect so a match allocates nothing here.
  #active: TrieNode[] = [];
  #nextActive: TrieNode[] = [];

  /** Nodes in the trie, the root included; a measure of memory, and of pruning in tests. */
  get nodeCount(): number {
    return this.#nodeCount;
  }

  /**
   * Adds `entry` under `bindingKey` and returns the node where the key ends, which
   * {@link release} needs back. Adding the same entry twice under one node stores it once.
   */
  insert(entry: RouteEntry, bindingKey: string): TrieTerminal {
    let node = this.#root;
    let previousWord = "";
    for (const word of splitKeyWords(bindingKey)) {
      // `#.#` matches what `#` matches; one node keeps the walk from doing the work twice.
      if (word === multiWordWildcard && previousWord === multiWordWildcard) continue;
      node = this.#childFor(node, word);
      previousWord = word;
    }
    if (!node.entries.includes(entry)) node.entries.push(entry);
    return node as unknown as TrieTerminal;
  }

  /** Removes `entry` from the nodes {@link insert} returned and prunes what became empty. */
  release(entry: RouteEntry, terminals: readonly TrieTerminal[]): void {
    for (const terminal of terminals) {
      const node = terminal as unknown as TrieNode;
      const position = node.entries.indexOf(entry);
      if (position < 0) throw new Error(`routing trie: entry ${entry.id} is not at its terminal`);
      node.entries.splice(position, 1);
      this.#prune(node);
    }
  }

  /**
   * Appends to `output` the id of every entry with a binding key that matches the routing key
   * of `words`, skipping entries already reported in `epoch` (and marking those it reports).
   */
  collect(words: readonly string[], epoch: number, output: number[]): void {
    let active = this.#active;
    let nextActive = this.#nextActive;
    active.length = 0;
    this.#activate(this.#root, active, ++this.#stepStamp);
    for (let index = 0; index < words.length && active.length > 0; index++) {
      const word = words[index];
      const stamp = ++this.#stepStamp;
      for (const node of active) {
        if (node.isHash) this.#activate(node, nextActive, stamp);
        const literal = node.children?.get(word);
        if (literal !== undefined) this.#activate(literal, nextActive, stamp);
        if (node.star !== null) this.#activate(node.star, nextActive, stamp);
      }
      const consumed = active;
      active = nextActive;
      nextActive = consumed;
      nextActive.length = 0;
    }
    for (const node of active) {
      for (const entry of node.entries) {
        if (entry.matchedEpoch === epoch) continue;
        entry.matchedEpoch = epoch;
        output.push(entry.id);
      }
    }
    // Drop the references so the scratch lists don't keep pruned nodes alive.
    active.length = 0;
    this.#active = active;
    this.#nextActive = nextActive;
  }

  /** Activates `node` and, since `#` may match zero words, its chain of `#` children. */
  #activate(node: TrieNode | null, list: TrieNode[], stamp: number): void {
    // A node already stamped in this step had its `#` chain activated with it.
    while (node !== null && node.activeStamp !== stamp) {
      node.activeStamp = stamp;
      list.push(node);
      node = node.hash;
    }
  }

  #childFor(node: TrieNode, word: string): TrieNode {
    if (word === multiWordWildcard) return node.hash ??= this.#newNode(node, word);
    if (word === singleWordWildcard) return node.star ??= this.#newNode(node, word);
    node.children ??= new Map();
    let child = node.children.get(word);
    if (child === undefined) {
      child = this.#newNode(node, word);
      node.children.set(word, child);
    }
    return child;
  }

  #newNode(parent: TrieNode, word: string): TrieNode {
    this.#nodeCount++;
    return new TrieNode(parent, word);
  }

  /** Unlinks `node` and then its ancestors while they hold nothing, so churn doesn't leak. */
  #prune(node: TrieNode): void {
    let current = node;
    while (current.parent !== null && current.isEmpty) {
      const parent = current.parent;
      if (parent.hash === current) parent.hash = null;
      else if (parent.star === current) parent.star = null;
      else {
        parent.children!.delete(current.word);
        if (parent.children!.size === 0) parent.children = null;
      }
      this.#nodeCount--;
      current = parent;
    }
  }
}
