/**
 * The CLI's `send` command: one message through the client, `--count N` through the `Producer`
 * (with progress on stderr).
 *
 * @module
 */
import { CmqdError } from "../errors.ts";
import { Producer } from "../producer.ts";
import type { SendMessageEntry } from "../protocol.ts";
import { integerFlag, nameAt, UsageError } from "./args.ts";
import { checkAnswer, checkCount } from "./answers.ts";
import type { CommandContext, ExitStatus } from "./commands.ts";
import { failureText } from "./failures.ts";

/** The most messages one `send --count` (or `tail --count`) may take. */
export const sendCountMax = 100_000_000;
/** The API's bound on the entries of one batch. */
export const batchMax = 256;
/** Sends on the way at once during `send --count` (the producer's default pending bound). */
const sendWindow = 1024;
/** How often the progress line is redrawn. */
const progressEveryMs = 500;

/** `send QUEUE [BODY] [--count N]`: `{i}` in the body becomes the message's index. */
export async function send(context: CommandContext): Promise<ExitStatus> {
  const queue = nameAt(context.args, 1, "queue name");
  const count = integerFlag(context.args, "count", { min: 1, max: sendCountMax }, 1)!;
  const body = context.args.positionals[2] ?? (count > 1 ? "message {i}" : undefined);
  if (body === undefined) throw new UsageError("send needs a message body (or --count N)");
  if (count > 1 && context.args.flags.get("dedup-id")?.includes("{i}") === false) {
    // One id for every message: the broker keeps the first and drops the others as duplicates.
    throw new UsageError("--dedup-id with --count needs {i} (each message its own id)");
  }
  // Read once, before any request: bad usage sends nothing.
  const groupId = context.args.flags.get("group-id");
  const dedupId = context.args.flags.get("dedup-id");
  const delaySeconds = integerFlag(context.args, "delay-seconds", { min: 0, max: 43_200 });
  const entryOf = (index: number): SendMessageEntry => {
    const entry: SendMessageEntry = { body: body.replaceAll("{i}", String(index)) };
    if (groupId !== undefined) entry.groupId = groupId;
    if (dedupId !== undefined) entry.dedupId = dedupId.replaceAll("{i}", String(index));
    if (delaySeconds !== undefined) entry.delaySeconds = delaySeconds;
    return entry;
  };
  if (count === 1) {
    // A dedup id makes the send repeatable, so the client retries it after a lost answer (a
    // dropped connection, a frozen node) without storing it twice, as `send --count` does.
    const entry = entryOf(0);
    entry.dedupId ??= crypto.randomUUID();
    const answer = checkAnswer(
      await context.client.sendMessages(queue, [entry], context),
      "send",
      { messages: [{ id: "string", sequence: "number" }] },
    );
    const [sent] = checkCount(answer.messages, 1, "send");
    context.out(context.json ? json(sent) : `sent ${sent.id} (sequence ${sent.sequence})`);
    return 0;
  }
  return await sendMany(context, queue, count, entryOf);
}

async function sendMany(
  context: CommandContext,
  queue: string,
  count: number,
  entryOf: (index: number) => SendMessageEntry,
): Promise<ExitStatus> {
  const batchSize = integerFlag(context.args, "batch-size", { min: 1, max: batchMax }, 64);
  // On a FIFO queue the messages without a groupId are one queue-wide group: they go as such,
  // one batch on the wire at a time and none after a failed one (batches on the wire together
  // may be stored in another order, and those after a failed one past its gap).
  let fifo = false;
  if (!context.args.flags.has("group-id")) {
    // Ctrl-C while the queue is read: nothing sent, reported as a send cut short.
    fifo = await isFifo(context, queue).catch((error) => {
      if (context.signal.aborted) return false;
      throw error;
    });
  }
  // Automatic dedup ids make the client's retries of a lost answer safe: nothing twice.
  const producer = new Producer(context.client, queue, { batchSize, autoDedupId: true, fifo });
  const startedAt = Date.now();
  let next = 0;
  let sent = 0;
  // The first failure stops new sends; those on the way settle, and each distinct error is
  // printed once, with its count. The sends of a group queued behind a failed one are not sent
  // (`EarlierSendFailed`, to keep the group in order): they count as not sent, as those the
  // failure stopped before they started, not as failures of their own.
  let failed = 0;
  let heldBack = 0;
  const errors = new Map<string, number>();
  /**
   * An error that is no `CmqdError`: a bug, the CLI's or the SDK's; thrown once the sends
   * settle, to be reported as such (exit 70), not counted among the broker's failures.
   */
  let thrown: { error: unknown } | undefined;
  const rate = () => Math.round(sent / Math.max((Date.now() - startedAt) / 1000, 0.001));
  const line = () => `sent ${sent}/${count} (${rate()} msg/s)`;
  const timer = setInterval(() => context.progress(line(), false), progressEveryMs);
  try {
    const worker = async () => {
      while (next < count && !context.signal.aborted && failed === 0 && heldBack === 0) {
        try {
          await producer.send(entryOf(next++), { signal: context.signal });
          sent++;
        } catch (error) {
          // Ctrl-C: stop quietly and report what was sent; anything else is a failure.
          if (context.signal.aborted) continue;
          if (error instanceof CmqdError && error.code === "EarlierSendFailed") {
            heldBack++;
            continue;
          }
          failed++;
          if (!(error instanceof CmqdError)) {
            thrown ??= { error };
            continue;
          }
          const line = failureText(error, context.nodes);
          errors.set(line, (errors.get(line) ?? 0) + 1);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(count, sendWindow) }, worker));
  } finally {
    clearInterval(timer);
    await producer.close().catch(() => {});
  }
  if (thrown !== undefined) throw thrown.error;
  const seconds = (Date.now() - startedAt) / 1000;
  context.progress(line(), true);
  const notSent = count - sent - failed;
  if (context.json) context.out(json({ sent, failed, notSent, seconds, perSecond: rate() }));
  else context.out(`sent ${sent} messages to ${queue} in ${seconds.toFixed(2)} s`);
  if (failed > 0) {
    context.note(`error: ${failed} of ${count} sends failed (${notSent} not sent):`);
    for (const [line, times] of errors) {
      context.note(`error: ${line}${times > 1 ? ` (${times} sends)` : ""}`);
    }
    return 1;
  }
  return sent === count ? 0 : 130;
}

/**
 * Whether `queue` is FIFO. A key that may send but not read the queue (403) gets the FIFO
 * queue's order, whatever the queue, with a note: slower (one batch at a time), never out of
 * order. Any other failure (no such queue, no node) is the command's.
 */
async function isFifo(context: CommandContext, queue: string): Promise<boolean> {
  try {
    const { fifo } = checkAnswer(await context.client.getQueue(queue, context), "queue get", {
      fifo: "boolean",
    });
    return fifo;
  } catch (error) {
    if (!(error instanceof CmqdError) || error.status !== 403) throw error;
    context.note(
      `note: could not read queue ${queue} (${error.code}): sending in order, one batch at a ` +
        "time, as to a FIFO queue",
    );
    return true;
  }
}

function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
