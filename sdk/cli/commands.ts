/**
 * The commands of the cmqd CLI, each on the SDK: the client for one-shot calls, the `Consumer`
 * for `tail --delete` (`send`: `send_command.ts`; topic commands: `topic_commands.ts`). Each
 * prints a human-readable table or, with `--json`, the API's objects.
 *
 * @module
 */
import type { CmqdClient } from "../client.ts";
import { Consumer } from "../consumer.ts";
import { unprocessed } from "../consumer_iterator.ts";
import type { HandleFailure, QueueAttributesInput, ReceivedMessage } from "../protocol.ts";
import { integerFlag, nameAt, type ParsedArgs, timeFlag, UsageError } from "./args.ts";
import { checkAnswer, clusterShape, deleteShape, messageShape, queueShape } from "./answers.ts";
import { clusterStatus, messageTable, queueDetails, queueTable, table } from "./format.ts";
import { batchMax, send, sendCountMax } from "./send_command.ts";
import { topicCommands } from "./topic_commands.ts";

/** What a command works with. */
export interface CommandContext {
  client: CmqdClient;
  args: ParsedArgs;
  json: boolean;
  /** Prints a line on standard output. */
  out(text: string): void;
  /** Prints a line on standard error (a note beside the output, not the output). */
  note(text: string): void;
  /** Shows a progress line on standard error (overwritten in place on a terminal). */
  progress(text: string, final: boolean): void;
  /** Aborted by Ctrl-C. */
  signal: AbortSignal;
  /** The nodes `--url` names (errors name them when none could be reached). */
  nodes?: readonly string[];
}

/** A command's exit status: 0 done, 1 partly failed, 130 cut short by Ctrl-C. */
export type ExitStatus = 0 | 1 | 130;

/** Runs the command named by the first positional words; answers the exit status. */
export async function runCommand(context: CommandContext): Promise<ExitStatus> {
  const [group, action] = context.args.positionals;
  const grouped = group === "queue" || group === "cluster" || group === "topic";
  const key = grouped ? `${group} ${action ?? ""}` : group;
  const command = commands[key] ?? topicCommands[key];
  if (grouped && action === undefined) {
    const actions = Object.keys({ ...commands, ...topicCommands })
      .filter((name) => name.startsWith(`${group} `)).map((name) => name.slice(group.length + 1));
    throw new UsageError(`${group} needs an action: ${actions.join(", ")}`);
  }
  if (command === undefined) throw new UsageError(`unknown command '${key ?? ""}'`);
  const extra = context.args.positionals[wordsMax[key] ?? Infinity];
  if (extra !== undefined) throw new UsageError(`${key}: unexpected argument '${extra}'`);
  const taken = commandFlags[key] ?? [];
  for (const flag of context.args.flags.keys()) {
    if (!globalFlags.has(flag) && !taken.includes(flag)) {
      throw new UsageError(`${key} takes no --${flag} (run with --help for its flags)`);
    }
  }
  return await command(context);
}

/** Positional words each command takes, its name included (`delete` takes any number). */
const wordsMax: Record<string, number> = {
  "queue create": 3,
  "queue list": 2,
  "queue get": 3,
  "queue delete": 3,
  "queue purge": 3,
  "cluster status": 2,
  send: 3,
  receive: 2,
  tail: 2,
  rewind: 2,
  "topic create": 3,
  "topic subscribe": 4,
  "topic publish": 4,
};

/** The flags every command takes. */
const globalFlags: ReadonlySet<string> = new Set([
  "url",
  "secret-id",
  "secret-key",
  "request-timeout-seconds",
  "head-timeout-ms",
  "json",
  "help",
]);

/** The flags each command takes besides the global ones (`--url`, `--json` …; see `--help`). */
export const commandFlags: Readonly<Record<string, readonly string[]>> = {
  "queue create": [
    "visibility-timeout-seconds",
    "polling-wait-seconds",
    "max-message-bytes",
    "retention-seconds",
    "rewind-seconds",
    "max-backlog",
    "fifo",
    "dead-letter-queue",
    "max-receive-count",
    "max-time-to-live-seconds",
  ],
  "queue list": ["prefix", "offset", "limit"],
  "queue get": [],
  "queue delete": [],
  "queue purge": [],
  "cluster status": [],
  send: ["count", "group-id", "dedup-id", "delay-seconds", "batch-size"],
  receive: ["max", "wait-seconds", "visibility-timeout-seconds", "delete"],
  tail: ["delete", "count", "timeout-seconds", "concurrency", "wait-seconds", "max"],
  delete: [],
  rewind: ["to", "sequence"],
  "topic create": ["filter-type", "max-message-bytes", "retention-seconds"],
  "topic subscribe": [
    "queue",
    "push-url",
    "filter-tags",
    "binding-keys",
    "retry-policy",
    "push-format",
  ],
  "topic publish": ["tags", "routing-key"],
};

const commands: Record<string, (context: CommandContext) => Promise<ExitStatus>> = {
  "queue create": createQueue,
  "queue list": listQueues,
  "queue get": async (context) => {
    const queue = checkAnswer(
      await context.client.getQueue(word(context, 2, "queue name"), context),
      "queue get",
      queueShape,
    );
    context.out(context.json ? json(queue) : queueDetails(queue));
    return 0;
  },
  "queue delete": async (context) => {
    const name = word(context, 2, "queue name");
    await context.client.deleteQueue(name, context);
    context.out(context.json ? json({ deleted: name }) : `deleted queue ${name}`);
    return 0;
  },
  "queue purge": async (context) => {
    const name = word(context, 2, "queue name");
    const result = checkAnswer(await context.client.purge(name, context), "queue purge", {
      purged: "number",
    });
    context.out(context.json ? json(result) : `purged ${result.purged} messages from ${name}`);
    return 0;
  },
  "cluster status": async (context) => {
    const info = checkAnswer(await context.client.cluster(context), "cluster status", clusterShape);
    context.out(context.json ? json(info) : clusterStatus(info));
    return 0;
  },
  send,
  receive,
  tail,
  delete: deleteHandles,
  rewind,
};

async function createQueue(context: CommandContext): Promise<ExitStatus> {
  const name = word(context, 2, "queue name");
  const { queue, created } = await context.client.createQueue(
    name,
    queueAttributes(context.args),
    context,
  );
  checkAnswer(queue, "queue create", queueShape);
  if (context.json) context.out(json({ created, queue }));
  else context.out(`${created ? "created" : "exists (same attributes)"}\n${queueDetails(queue)}`);
  return 0;
}

async function listQueues(context: CommandContext): Promise<ExitStatus> {
  const list = await context.client.listQueues({
    prefix: context.args.flags.get("prefix"),
    offset: integerFlag(context.args, "offset", { min: 0, max: Number.MAX_SAFE_INTEGER }),
    limit: integerFlag(context.args, "limit", { min: 1, max: 1000 }),
  }, context);
  checkAnswer(list, "queue list", { queues: [queueShape], total: "number" });
  if (context.json) context.out(json(list));
  else context.out(`${queueTable(list.queues)}\n(${list.queues.length} of ${list.total})`);
  return 0;
}

/** The queue attributes given as `--kebab-case` flags. */
export function queueAttributes(args: ParsedArgs): QueueAttributesInput {
  const attributes: QueueAttributesInput = {};
  const integers = [
    ["visibility-timeout-seconds", "visibilityTimeoutSeconds"],
    ["polling-wait-seconds", "pollingWaitSeconds"],
    ["max-message-bytes", "maxMessageBytes"],
    ["retention-seconds", "retentionSeconds"],
    ["rewind-seconds", "rewindSeconds"],
    ["max-backlog", "maxBacklog"],
  ] as const;
  // The broker checks each range and answers InvalidParameter naming the field.
  const any = { min: 0, max: Number.MAX_SAFE_INTEGER };
  for (const [flag, field] of integers) {
    const value = integerFlag(args, flag, any);
    if (value !== undefined) attributes[field] = value;
  }
  if (args.flags.has("fifo")) attributes.fifo = true;
  const deadLetterQueue = args.flags.get("dead-letter-queue");
  for (const flag of ["max-receive-count", "max-time-to-live-seconds"]) {
    if (deadLetterQueue === undefined && args.flags.has(flag)) {
      throw new UsageError(`--${flag} goes with --dead-letter-queue`);
    }
  }
  if (deadLetterQueue !== undefined) {
    attributes.deadLetter = {
      queue: deadLetterQueue,
      maxReceiveCount: integerFlag(args, "max-receive-count", any),
      maxTimeToLiveSeconds: integerFlag(args, "max-time-to-live-seconds", any),
    };
  }
  return attributes;
}

/** `receive QUEUE [--max N] [--wait-seconds S] [--delete]`: one receive. */
async function receive(context: CommandContext): Promise<ExitStatus> {
  const queue = word(context, 1, "queue name");
  const answer = await context.client.receiveMessages(queue, {
    maxMessages: integerFlag(context.args, "max", { min: 1, max: batchMax }, 1),
    waitSeconds: integerFlag(context.args, "wait-seconds", { min: 0, max: 30 }),
    visibilityTimeoutSeconds: integerFlag(context.args, "visibility-timeout-seconds", {
      min: 1,
      max: 43_200,
    }),
  }, context);
  const { messages } = checkAnswer(answer, "receive", { messages: [messageShape] });
  const deleting = context.args.flags.has("delete");
  let deleted = 0;
  let failures: HandleFailure[] = [];
  if (deleting && messages.length > 0) {
    const handles = messages.map((message) => message.receiptHandle);
    const result = checkAnswer(
      await context.client.deleteMessages(queue, handles, context),
      "delete",
      deleteShape,
    );
    deleted = result.deleted;
    failures = notedGone(context, result.failures);
  }
  // With --delete the failures left (gone ones are done) are in the answer too, [] when none.
  if (context.json) {
    context.out(json(deleting ? { messages, deleted, failures } : { messages, deleted }));
  } else if (messages.length === 0) context.out("no message");
  else context.out(messageTable(messages) + (deleted > 0 ? `\n(deleted ${deleted})` : ""));
  for (const failure of failures) {
    context.note(`error: ${failure.code}: ${failure.receiptHandle}: ${failure.message}`);
  }
  return failures.length === 0 ? 0 : 1;
}

/**
 * `tail QUEUE [--delete] [--count N] [--timeout-seconds S]`: prints messages as they arrive
 * until Ctrl-C (exit 0; 130 when it cut a --count or --timeout-seconds short), N messages or S
 * seconds. With `--delete` a `Consumer` handles each (printed =
 * deleted); without it, messages are only received, and come back when their lock ends.
 */
async function tail(context: CommandContext): Promise<ExitStatus> {
  const queue = word(context, 1, "queue name");
  const deleting = context.args.flags.has("delete");
  if (deleting ? context.args.flags.has("max") : context.args.flags.has("concurrency")) {
    throw new UsageError(deleting ? "--max goes without --delete" : "--concurrency needs --delete");
  }
  const countMax = integerFlag(context.args, "count", { min: 1, max: sendCountMax });
  const timeoutSeconds = integerFlag(context.args, "timeout-seconds", { min: 1, max: 86_400 });
  const done = new AbortController();
  const stop = () => done.abort();
  /** Its --count or --timeout-seconds ended it (not Ctrl-C). */
  let bounded = false;
  const end = () => {
    bounded = true;
    stop();
  };
  context.signal.addEventListener("abort", stop, { once: true });
  const timer = timeoutSeconds === undefined ? undefined : setTimeout(end, timeoutSeconds * 1000);
  let printed = 0;
  const print = (message: ReceivedMessage) => {
    if (done.signal.aborted) return false;
    checkAnswer(message, "a receive", messageShape);
    printed++;
    context.out(context.json ? JSON.stringify(message) : tailLine(message));
    if (countMax !== undefined && printed >= countMax) end();
    return true;
  };
  try {
    if (deleting) await tailDeleting(context, queue, print, done.signal);
    else {
      // A receive locks what it takes: it asks for no more than the messages left to print.
      const left = () => countMax === undefined ? Infinity : countMax - printed;
      await tailReceiving(context, queue, print, done.signal, left);
    }
  } finally {
    clearTimeout(timer);
    context.signal.removeEventListener("abort", stop);
  }
  // A tail without bounds runs until Ctrl-C: that is its end. One with a bound that Ctrl-C cut
  // short did not do what was asked (fewer than --count messages), as `send --count`.
  const bound = countMax !== undefined || timeoutSeconds !== undefined;
  return bound && !bounded && context.signal.aborted ? 130 : 0;
}

function tailLine(message: ReceivedMessage): string {
  const enqueuedAt = new Date(message.enqueuedAt).toISOString();
  return `${enqueuedAt}  ${message.id}  #${message.receiveCount}  ${JSON.stringify(message.body)}`;
}

async function tailDeleting(
  context: CommandContext,
  queue: string,
  print: (message: ReceivedMessage) => boolean,
  signal: AbortSignal,
): Promise<void> {
  // The first failure ends the tail, as it ends one without --delete (the client has retried
  // what it retries): a refused key, a missing queue or a down broker is an error, not a hang.
  let failure: { error: unknown } | null = null;
  const failed = new AbortController();
  const consumer = new Consumer(context.client, queue, {
    concurrency: integerFlag(context.args, "concurrency", { min: 1, max: 256 }, 1),
    waitSeconds: integerFlag(context.args, "wait-seconds", { min: 0, max: 30 }, 20),
    handleMessage: (message) => {
      // A message that arrived after the end (past --count: a receive asks for the free slots),
      // or whose line could not be written (standard output closed, which ends the tail too),
      // is given back at once, not deleted, nor failed (hidden for a retry delay).
      let printed: boolean;
      try {
        printed = print(message);
      } catch (error) {
        if (signal.aborted) throw unprocessed;
        throw error;
      }
      if (!printed) throw unprocessed;
    },
    onError: (error) => {
      if (failure !== null) return;
      failure = { error };
      failed.abort();
    },
  });
  consumer.start();
  await new Promise<void>((resolve) => {
    if (signal.aborted || failed.signal.aborted) resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
    failed.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  await consumer.stop();
  if (failure !== null) throw (failure as { error: unknown }).error;
}

async function tailReceiving(
  context: CommandContext,
  queue: string,
  print: (message: ReceivedMessage) => boolean,
  signal: AbortSignal,
  left: () => number,
): Promise<void> {
  const waitSeconds = integerFlag(context.args, "wait-seconds", { min: 0, max: 30 }, 20);
  const max = integerFlag(context.args, "max", { min: 1, max: batchMax }) ?? 16;
  while (!signal.aborted) {
    const answer = await context.client.receiveMessages(queue, {
      maxMessages: Math.min(max, left()),
      waitSeconds,
    }, { signal }).catch((error) => {
      if (signal.aborted) return { messages: [] };
      throw error;
    });
    const { messages } = checkAnswer(answer, "receive", { messages: [messageShape] });
    for (const message of messages) print(message);
  }
}

/**
 * `rewind QUEUE (--to TIME | --sequence N)`: deleted messages from that time (epoch ms, or ISO
 * 8601 with a zone) or sequence on, inside the queue's rewind window, are delivered again.
 */
async function rewind(context: CommandContext): Promise<ExitStatus> {
  const queue = word(context, 1, "queue name");
  const timestamp = timeFlag(context.args, "to");
  const sequence = integerFlag(context.args, "sequence", { min: 0, max: Number.MAX_SAFE_INTEGER });
  if ((timestamp === undefined) === (sequence === undefined)) {
    throw new UsageError("rewind takes exactly one of --to TIME and --sequence N");
  }
  const result = checkAnswer(
    await context.client.rewind(
      queue,
      timestamp !== undefined ? { timestamp } : { sequence: sequence! },
      context,
    ),
    "rewind",
    { from: { timestamp: "number", sequence: "number" }, messages: "number" },
  );
  if (context.json) context.out(json(result));
  else {
    const from = `sequence ${result.from.sequence} (${
      new Date(result.from.timestamp).toISOString()
    })`;
    context.out(`rewound ${queue} from ${from}: ${result.messages} messages to deliver again`);
  }
  return 0;
}

/** `delete QUEUE HANDLE...`: deletes received messages by their receipt handles. */
async function deleteHandles(context: CommandContext): Promise<ExitStatus> {
  const queue = word(context, 1, "queue name");
  const handles = context.args.positionals.slice(2);
  if (handles.length === 0) throw new UsageError("delete needs one or more receipt handles");
  if (handles.length > batchMax) throw new UsageError(`at most ${batchMax} handles at once`);
  const result = checkAnswer(
    await context.client.deleteMessages(queue, handles, context),
    "delete",
    deleteShape,
  );
  const failures = notedGone(context, result.failures);
  if (context.json) context.out(json(result));
  else {
    context.out(`deleted ${result.deleted}`);
    if (failures.length > 0) {
      context.out(table(
        ["RECEIPT_HANDLE", "CODE", "MESSAGE"],
        failures.map((failure) => [failure.receiptHandle, failure.code, failure.message]),
      ));
    }
  }
  return failures.length === 0 ? 0 : 1;
}

/**
 * The failures of a delete that are failures: a handle whose message is no longer in the queue
 * (`gone`: deleted before — often by this very delete, retried after a lost answer —, expired,
 * dead-lettered, purged) is done, and only noted on stderr, one line per handle.
 */
function notedGone(context: CommandContext, failures: HandleFailure[]): HandleFailure[] {
  const left: HandleFailure[] = [];
  for (const failure of failures) {
    if (failure.gone === true) {
      context.note(`note: ${failure.receiptHandle}: already deleted or no longer in the queue`);
    } else left.push(failure);
  }
  return left;
}

function word(context: CommandContext, index: number, what: string): string {
  return nameAt(context.args, index, what);
}

function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
