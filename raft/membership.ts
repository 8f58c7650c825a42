/**
 * Single-server membership changes (Raft dissertation §4.1). A node uses the latest
 * configuration in its log, committed or not: a change takes effect as soon as it is appended,
 * and is undone if that entry is truncated. `ConfigHistory` keeps the uncommitted changes so a
 * truncation can restore the configuration that preceded them.
 *
 * @module
 */

import assert from "node:assert/strict";
import { InvalidRequestError } from "./errors.ts";
import {
  type ConfigChange,
  type ConfigState,
  type Entry,
  EntryType,
  type LogIndex,
  type NodeId,
} from "./types.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes a change as the data of a `ConfigChange` entry (UTF-8 JSON: tiny and rare). */
export function encodeConfigChange(change: ConfigChange): Uint8Array {
  return encoder.encode(JSON.stringify({ type: change.type, nodeId: change.nodeId }));
}

/** Decodes the data of a `ConfigChange` entry. */
export function decodeConfigChange(data: Uint8Array): ConfigChange {
  const value = JSON.parse(decoder.decode(data));
  assert.ok(["addLearner", "promote", "remove"].includes(value.type), "known config change type");
  assert.equal(typeof value.nodeId, "string", "config change names a node");
  return { type: value.type, nodeId: value.nodeId as NodeId };
}

/** Whether `id` may vote (and campaign) under `config`. */
export function isVoter(config: ConfigState, id: NodeId): boolean {
  return config.voters.includes(id);
}

/** Whether `id` is a voter or a learner of `config`. */
export function isMember(config: ConfigState, id: NodeId): boolean {
  return config.voters.includes(id) || config.learners.includes(id);
}

/** Every member of `config`, voters first. */
export function members(config: ConfigState): NodeId[] {
  return [...config.voters, ...config.learners];
}

/**
 * Returns the configuration after `change`, or throws `InvalidRequestError` if the change does
 * not apply (adding a member, promoting a non-learner, removing a stranger or the last voter).
 *
 * @example
 * ```ts
 * const next = applyConfigChange({ voters: [a], learners: [] }, { type: "addLearner", nodeId: b });
 * ```
 */
export function applyConfigChange(config: ConfigState, change: ConfigChange): ConfigState {
  const { nodeId, type } = change;
  const voter = config.voters.includes(nodeId);
  const learner = config.learners.includes(nodeId);
  if (type === "addLearner") {
    if (voter || learner) throw new InvalidRequestError(`${nodeId} is already a member`);
    return { voters: [...config.voters], learners: [...config.learners, nodeId] };
  }
  if (type === "promote") {
    if (!learner) throw new InvalidRequestError(`${nodeId} is not a learner`);
    return {
      voters: [...config.voters, nodeId],
      learners: config.learners.filter((id) => id !== nodeId),
    };
  }
  if (!voter && !learner) throw new InvalidRequestError(`${nodeId} is not a member`);
  if (voter && config.voters.length === 1) {
    throw new InvalidRequestError("cannot remove the last voter");
  }
  return {
    voters: config.voters.filter((id) => id !== nodeId),
    learners: config.learners.filter((id) => id !== nodeId),
  };
}

interface ConfigAt {
  index: LogIndex;
  config: ConfigState;
  /** The index of the change that took `self` out, while it stays out; null otherwise. */
  selfOutAt: LogIndex | null;
}

/**
 * The configurations in force along the log: a committed base plus the changes appended after it.
 * It also follows one node, `self`: whether a change in this history took it out.
 */
export class ConfigHistory {
  readonly #self: NodeId | null;
  #base: ConfigAt;
  #changes: ConfigAt[] = [];

  constructor(index: LogIndex, config: ConfigState, self: NodeId | null = null) {
    this.#self = self;
    this.#base = { index, config: cloneConfig(config), selfOutAt: null };
  }

  /** The configuration of the last committed config change (or of the snapshot, at start). */
  committed(): ConfigState {
    return this.#base.config;
  }

  /**
   * The index of the change in this history that took `self` out of the configuration, while
   * the latest configuration still leaves it out; null while it is a member, and when no change
   * here ever listed it (a new node waiting to be added).
   */
  selfRemovedAt(): LogIndex | null {
    return (this.#changes.at(-1) ?? this.#base).selfOutAt;
  }

  #selfOutAt(before: ConfigAt, index: LogIndex, next: ConfigState): LogIndex | null {
    const self = this.#self;
    if (self === null || isMember(next, self)) return null;
    return isMember(before.config, self) ? index : before.selfOutAt;
  }

  /** The configuration of the last entry in the log. */
  current(): ConfigState {
    return this.#changes.length === 0 ? this.#base.config : this.#changes.at(-1)!.config;
  }

  /** The index of the entry that made `current()` (the base index if none since). */
  currentIndex(): LogIndex {
    return this.#changes.length === 0 ? this.#base.index : this.#changes.at(-1)!.index;
  }

  /**
   * Whether the config changes among `entries`, appended once the log is cut at `from` (their
   * first index), decode and apply in order. A correct leader sends no others; a follower drops an
   * append that fails this rather than stop on it.
   */
  acceptsFrom(from: LogIndex, entries: readonly Entry[]): boolean {
    let config = this.#base.config;
    for (const change of this.#changes) if (change.index < from) config = change.config;
    try {
      for (const entry of entries) {
        if (entry.type !== EntryType.ConfigChange) continue;
        config = applyConfigChange(config, decodeConfigChange(entry.data));
      }
      return true;
    } catch {
      return false;
    }
  }

  /** Takes the config changes among newly appended `entries` into effect; true if any. */
  append(entries: readonly Entry[]): boolean {
    let changed = false;
    for (const entry of entries) {
      if (entry.type !== EntryType.ConfigChange) continue;
      assert.ok(entry.index > this.currentIndex(), "config changes arrive in log order");
      const before = this.#changes.at(-1) ?? this.#base;
      const next = applyConfigChange(before.config, decodeConfigChange(entry.data));
      const selfOutAt = this.#selfOutAt(before, entry.index, next);
      this.#changes.push({ index: entry.index, config: next, selfOutAt });
      changed = true;
    }
    return changed;
  }

  /** Forgets changes at or after `index` (their entries were truncated); true if any. */
  truncateFrom(index: LogIndex): boolean {
    assert.ok(index > this.#base.index, "committed configuration is never truncated");
    const before = this.#changes.length;
    this.#changes = this.#changes.filter((change) => change.index < index);
    return this.#changes.length !== before;
  }

  /** Folds changes up to the commit index into the base: they can no longer be undone. */
  commitTo(commit: LogIndex): void {
    while (this.#changes.length > 0 && this.#changes[0].index <= commit) {
      this.#base = this.#changes.shift()!;
    }
  }

  /** Restarts the history from a snapshot. */
  reset(index: LogIndex, config: ConfigState): void {
    const selfOutAt = this.#selfOutAt(this.#changes.at(-1) ?? this.#base, index, config);
    this.#base = { index, config: cloneConfig(config), selfOutAt };
    this.#changes = [];
  }
}

/** A deep copy of `config`, so callers can't mutate a node's membership. */
export function cloneConfig(config: ConfigState): ConfigState {
  return { voters: [...config.voters], learners: [...config.learners] };
}
