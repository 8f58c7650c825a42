/**
 * Human-readable output of the CLI: aligned tables and key/value listings. (`--json` bypasses
 * all of this and prints the API's objects as they came.)
 *
 * @module
 */
import type { ClusterInfo, Queue, ReceivedMessage } from "../protocol.ts";

/** Cells longer than this are cut with `…` (handles and bodies can be long). */
const cellCharsMax = 60;

/**
 * Renders rows under a header, columns padded to their widest cell.
 *
 * @example
 * ```ts
 * table(["NAME", "ACTIVE"], [["orders", "3"]]);
 * // "NAME    ACTIVE\norders  3"
 * ```
 */
export function table(header: string[], rows: string[][]): string {
  const cut = (cell: string) =>
    cell.length > cellCharsMax ? cell.slice(0, cellCharsMax - 1) + "…" : cell;
  const all = [header, ...rows.map((row) => row.map(cut))];
  const widths = header.map((_, column) =>
    Math.max(...all.map((row) => (row[column] ?? "").length))
  );
  return all.map((row) =>
    row.map((cell, column) => cell.padEnd(widths[column])).join("  ").trimEnd()
  )
    .join("\n");
}

/** One object as `key  value` lines. */
export function keyValues(entries: [string, string][]): string {
  const width = Math.max(...entries.map(([key]) => key.length));
  return entries.map(([key, value]) => `${key.padEnd(width)}  ${value}`).join("\n");
}

/** An epoch-milliseconds time as ISO text, `-` for none. */
export function time(epochMs: number | null | undefined): string {
  return epochMs === null || epochMs === undefined ? "-" : new Date(epochMs).toISOString();
}

/** The queue list as a table. */
export function queueTable(queues: Queue[]): string {
  return table(
    ["NAME", "ACTIVE", "INFLIGHT", "DELAYED", "FIFO", "VISIBILITY_S", "DEAD_LETTER"],
    queues.map((queue) => [
      queue.name,
      String(queue.activeMessages),
      String(queue.inflightMessages),
      String(queue.delayedMessages),
      queue.fifo ? "yes" : "no",
      String(queue.visibilityTimeoutSeconds),
      queue.deadLetter?.queue ?? "-",
    ]),
  );
}

/** One queue, every attribute and count. */
export function queueDetails(queue: Queue): string {
  const deadLetter = queue.deadLetter
    ? `${queue.deadLetter.queue} (after ${queue.deadLetter.maxReceiveCount ?? "-"} receives, ` +
      `${queue.deadLetter.maxTimeToLiveSeconds ?? "-"} s)`
    : "-";
  return keyValues([
    ["name", queue.name],
    ["fifo", String(queue.fifo)],
    ["activeMessages", String(queue.activeMessages)],
    ["inflightMessages", String(queue.inflightMessages)],
    ["delayedMessages", String(queue.delayedMessages)],
    ["rewindableMessages", String(queue.rewindableMessages)],
    ["oldestMessageAt", time(queue.oldestMessageAt)],
    ["visibilityTimeoutSeconds", String(queue.visibilityTimeoutSeconds)],
    ["pollingWaitSeconds", String(queue.pollingWaitSeconds)],
    ["maxMessageBytes", String(queue.maxMessageBytes)],
    ["retentionSeconds", String(queue.retentionSeconds)],
    ["rewindSeconds", String(queue.rewindSeconds)],
    ["maxBacklog", String(queue.maxBacklog)],
    ["deadLetter", deadLetter],
    ["createdAt", time(queue.createdAt)],
    ["modifiedAt", time(queue.modifiedAt)],
  ]);
}

/** Received messages as a table (the full receipt handle is in `--json`). */
export function messageTable(messages: ReceivedMessage[]): string {
  return table(
    ["ID", "SEQUENCE", "RECEIVES", "GROUP", "BODY", "RECEIPT_HANDLE"],
    messages.map((message) => [
      message.id,
      String(message.sequence),
      String(message.receiveCount),
      message.groupId ?? "-",
      JSON.stringify(message.body),
      message.receiptHandle,
    ]),
  );
}

/** Why a node takes no part (removed, or a distrusted log), for the summary; "" for a voter. */
function standing(info: ClusterInfo): string {
  if (info.removed) {
    const by = info.removed.by === null ? "by its own log" : `told by ${info.removed.by}`;
    return `, removed from the cluster at index ${info.removed.index} (${by})`;
  }
  return info.canVote === false ? ", may not vote or campaign" : "";
}

/** The cluster: a summary line and a table of nodes. */
export function clusterStatus(info: ClusterInfo): string {
  const summary = `node ${info.nodeId} (${info.role}), leader ${info.leaderId ?? "none"}, ` +
    `term ${info.term}, commit ${info.commitIndex}, applied ${info.appliedIndex}` +
    standing(info);
  const nodes = table(
    ["ID", "ROLE", "URL", "MATCH_INDEX", "LAG"],
    info.nodes.map((node) => [
      node.id,
      node.role,
      node.url ?? "-",
      node.matchIndex === null ? "-" : String(node.matchIndex),
      node.lag === null ? "-" : String(node.lag),
    ]),
  );
  return `${summary}\n${nodes}`;
}
