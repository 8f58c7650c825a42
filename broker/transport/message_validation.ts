/**
 * Whether a decoded message is one Raft could have sent. The codec guarantees shapes (known
 * types, non-negative safe integers, bounded strings); this checks meaning, so a message no
 * correct node would send — a term that the next election could not exceed, entries that do not
 * follow the append they ride on, a snapshot chunk beyond the limits — is dropped and logged at
 * the transport instead of reaching the replica, where an assertion would stop it.
 *
 * The checks are plain facts of Raft as `raft/` implements it: every message carries its
 * sender's term (a pre-vote and its answer the candidate's next term); a node's log holds no
 * entry of a term above its own, so `logTerm`, entry terms and a snapshot's term never exceed
 * the message's; an append's entries follow `index` one by one, their terms from `logTerm` up;
 * only appends carry entries and only `Snap` carries a chunk.
 *
 * @module
 */

import { EntryType, type Message, MessageType, type SnapshotChunk } from "../../raft/mod.ts";

/** Bounds a message must keep (see `messageLimitsDefault`). */
export interface MessageLimits {
  /** Highest term accepted: room for centuries of elections, far below 2^53. */
  termMax: number;
  /** Highest log index (and commit, hint) accepted: leaves room to append without overflow. */
  indexMax: number;
  /** Longest `context` (UTF-16 units): contexts are short tags and read-request ids. */
  contextCharsMax: number;
  /** Longest node id (UTF-16 units). */
  nodeIdCharsMax: number;
  /** Most entries one message carries. */
  entriesPerMessageMax: number;
  /** Largest `data` of one snapshot chunk. */
  snapshotChunkBytesMax: number;
  /** Largest whole snapshot a chunk may announce. */
  snapshotBytesMax: number;
  /** Most members (voters + learners) a snapshot's configuration may list. */
  snapshotMembersMax: number;
}

/** The limits the TCP transport applies unless told otherwise. */
export const messageLimitsDefault: Readonly<MessageLimits> = {
  termMax: 2 ** 48,
  indexMax: 2 ** 52,
  contextCharsMax: 1024,
  nodeIdCharsMax: 255,
  entriesPerMessageMax: 1_000_000,
  snapshotChunkBytesMax: 16 * 1024 * 1024,
  // Snapshots are streamed to a file on the follower, so this bounds disk, not memory: 1 TiB.
  snapshotBytesMax: 2 ** 40,
  snapshotMembersMax: 1024,
};

const messageTypes = new Set<number>(Object.values(MessageType));

/**
 * Why `message` can't be from a correct peer, or null when it may be.
 *
 * @example
 * ```ts
 * const problem = messageProblem(message, messageLimitsDefault);
 * if (problem !== null) log(`dropped a message from ${message.from}: ${problem}`);
 * ```
 */
export function messageProblem(message: Message, limits: MessageLimits): string | null {
  if (!messageTypes.has(message.type)) return `unknown message type ${message.type}`;
  const ids = idProblem(`from`, message.from, limits) ?? idProblem(`to`, message.to, limits);
  if (ids !== null) return ids;
  if (message.from === message.to) return "a message from a node to itself";
  const numbers = countProblem("term", message.term, limits.termMax) ??
    countProblem("logTerm", message.logTerm, limits.termMax) ??
    countProblem("index", message.index, limits.indexMax) ??
    countProblem("commit", message.commit, limits.indexMax) ??
    countProblem("rejectHint", message.rejectHint, limits.indexMax);
  if (numbers !== null) return numbers;
  if (message.logTerm > message.term) {
    return `logTerm ${message.logTerm} above the message's term ${message.term}`;
  }
  if (typeof message.reject !== "boolean") return "reject is not a boolean";
  if (typeof message.context !== "string" || message.context.length > limits.contextCharsMax) {
    return `context longer than ${limits.contextCharsMax} characters`;
  }
  return entriesProblem(message, limits) ?? snapshotProblem(message, limits);
}

function idProblem(field: string, id: unknown, limits: MessageLimits): string | null {
  if (typeof id !== "string" || id.length === 0 || id.length > limits.nodeIdCharsMax) {
    return `${field} is not a node id of 1–${limits.nodeIdCharsMax} characters`;
  }
  return null;
}

function countProblem(field: string, value: number, max: number): string | null {
  if (!isCount(value, max)) {
    return `${field} ${value} is not an integer in [0, ${max}]`;
  }
  return null;
}

function entriesProblem(message: Message, limits: MessageLimits): string | null {
  const { entries } = message;
  if (!Array.isArray(entries)) return "entries is not a list";
  if (entries.length === 0) return null;
  if (message.type !== MessageType.App) return `a ${typeName(message.type)} carrying entries`;
  if (entries.length > limits.entriesPerMessageMax) {
    return `${entries.length} entries (at most ${limits.entriesPerMessageMax})`;
  }
  // The hot path (every replicated entry passes here): plain comparisons, text only on failure.
  // The entries follow the sender's entry at `index`, of term `logTerm`: a log's terms never go
  // down, and a follower's storage refuses (an assertion, its replica stops) an entry that does.
  let previousTerm = Math.max(1, message.logTerm);
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i];
    const { term, index, timestamp } = entry;
    if (!isCount(term, message.term) || term < previousTerm) {
      return `entry ${i} term ${term} is not in [${previousTerm}, ${message.term}]`;
    }
    previousTerm = term;
    if (index !== message.index + 1 + i) {
      return `entry ${i} has index ${index}, expected ${message.index + 1 + i}`;
    }
    if (!isEntryType(entry.type)) return `entry ${i} has unknown type ${entry.type}`;
    if (timestamp !== undefined && !(Number.isFinite(timestamp) && timestamp >= 0)) {
      return `entry ${i} timestamp ${timestamp} is not a finite non-negative number`;
    }
    if (!(entry.data instanceof Uint8Array)) return `entry ${i} data is not bytes`;
  }
  return null;
}

function isCount(value: number, max: number): boolean {
  return Number.isSafeInteger(value) && value >= 0 && value <= max;
}

function isEntryType(type: number): boolean {
  return Number.isInteger(type) && (type === EntryType.Noop || type === EntryType.ConfigChange ||
    (type >= EntryType.ApplicationMin && type <= EntryType.ApplicationMax));
}

function snapshotProblem(message: Message, limits: MessageLimits): string | null {
  const chunk = message.snapshot;
  if (message.type !== MessageType.Snap) {
    return chunk === undefined ? null : `a ${typeName(message.type)} carrying a snapshot chunk`;
  }
  if (chunk === undefined) return "a Snap without a snapshot chunk";
  return countProblem("snapshot index", chunk.index, limits.indexMax) ??
    countProblem("snapshot term", chunk.term, message.term) ??
    countProblem("snapshot totalBytes", chunk.totalBytes, limits.snapshotBytesMax) ??
    countProblem("snapshot offset", chunk.offset, limits.snapshotBytesMax) ??
    chunkDataProblem(chunk, limits) ??
    configProblem(chunk, limits);
}

function chunkDataProblem(chunk: SnapshotChunk, limits: MessageLimits): string | null {
  if (chunk.index < 1 || chunk.term < 1) return "a snapshot at index or term 0";
  if (!(chunk.data instanceof Uint8Array)) return "snapshot data is not bytes";
  if (chunk.data.length > limits.snapshotChunkBytesMax) {
    return `a snapshot chunk of ${chunk.data.length} bytes (at most ${limits.snapshotChunkBytesMax})`;
  }
  if (chunk.offset + chunk.data.length > chunk.totalBytes) {
    return `snapshot chunk [${chunk.offset}, ${
      chunk.offset + chunk.data.length
    }) beyond its total ${chunk.totalBytes}`;
  }
  return null;
}

function configProblem(chunk: SnapshotChunk, limits: MessageLimits): string | null {
  const { voters, learners } = chunk.config;
  if (voters.length === 0) return "a snapshot configuration without voters";
  if (voters.length + learners.length > limits.snapshotMembersMax) {
    return `a snapshot configuration of more than ${limits.snapshotMembersMax} members`;
  }
  const seen = new Set<string>();
  for (const id of [...voters, ...learners]) {
    const problem = idProblem("a snapshot member", id, limits);
    if (problem !== null) return problem;
    if (seen.has(id)) return `snapshot member ${id} listed twice`;
    seen.add(id);
  }
  return null;
}

function typeName(type: number): string {
  return Object.entries(MessageType).find(([, value]) => value === type)?.[0] ?? String(type);
}
