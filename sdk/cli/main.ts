/**
 * The cmqd command line, on the SDK: `deno task cli -- <command>`.
 *
 * Exit status: 0 done, 1 the broker refused or a batch partly failed (or no node answered, or
 * an answer was not the API's), 2 bad usage (or a Deno permission missing), 70 a bug in the CLI itself (its stack on stderr),
 * 130 interrupted by Ctrl-C (a `tail` without `--count` or `--timeout-seconds`, which runs until
 * Ctrl-C, exits 0).
 *
 * @module
 */
import process from "node:process";
import { CmqdClient, type CmqdClientOptions } from "../client.ts";
import {
  bugExitStatus,
  bugText,
  failureText,
  missingPermissionExitStatus,
  missingPermissionText,
  systemRefusalText,
} from "./failures.ts";
import { integerFlag, parseArgs, type ParsedArgs, UsageError } from "./args.ts";
import { runCommand } from "./commands.ts";
import { CmqdError } from "../errors.ts";
import { checkBaseUrl as sdkCheckBaseUrl, checkCredentials } from "../option_checks.ts";

/** The text of `--help`. */
export const usage = `usage: deno task cli -- <command> [flags]

commands:
  queue create NAME [--visibility-timeout-seconds N] [--polling-wait-seconds N]
                    [--max-message-bytes N] [--retention-seconds N] [--rewind-seconds N]
                    [--max-backlog N] [--fifo] [--dead-letter-queue Q
                    [--max-receive-count N] [--max-time-to-live-seconds N]]
  queue list [--prefix P] [--offset N] [--limit N]
  queue get NAME
  queue delete NAME
  queue purge NAME
  send QUEUE [BODY] [--count N] [--group-id G] [--dedup-id D] [--delay-seconds N]
                    [--batch-size N]      ({i} in BODY or D becomes the message's index;
                    with --count, D must hold {i})
  receive QUEUE [--max N] [--wait-seconds S] [--visibility-timeout-seconds S] [--delete]
  tail QUEUE [--count N] [--timeout-seconds S] [--wait-seconds S]
                    [--max N | --delete [--concurrency N]]
  delete QUEUE RECEIPT_HANDLE...
  rewind QUEUE (--to TIME | --sequence N)
                    (TIME: epoch ms, or ISO 8601 with a zone: 2026-12-05T13:00:00Z)
  topic create NAME [--filter-type tag|routingKey] [--max-message-bytes N]
                    [--retention-seconds N]
  topic subscribe TOPIC NAME (--queue Q | --push-url URL) [--filter-tags a,b]
                    [--binding-keys k1,k2] [--retry-policy exponentialDecay|backoff]
                    [--push-format json|simplified]
  topic publish TOPIC BODY [--tags a,b] [--routing-key K]
  cluster status

flags:
  --url URL[,URL...]   a node (or several) of the cluster (env CMQD_URL; default
                       http://127.0.0.1:9876)
  --secret-id ID       an access key of the broker's credentials file (env CMQD_SECRET_ID,
  --secret-key KEY     CMQD_SECRET_KEY); every request is signed, the key is never sent.
                       Prefer the env: a flag's value is visible to other users (ps)
  --request-timeout-seconds N
                       each attempt's bound (default 10; a receive adds its wait): a node
                       that accepts and never answers is an error, not a hang
  --head-timeout-ms N  with several --url nodes, how long an attempt waits for the response's
                       head before it takes the node for frozen and (a read) tries another
                       (default 5000, the SDK's headTimeoutMs; a receive adds its wait; at or
                       above the request timeout it is off)
  --json               print the API's JSON instead of tables
  -h, --help           this text (also: help)
`;

const defaultUrl = "http://127.0.0.1:9876";
/**
 * Each attempt's bound. The SDK's 30 s suits a service; a person at a terminal facing a frozen
 * node (a stopped process still accepts connections) should hear back sooner: a read is tried up
 * to four times.
 */
const requestTimeoutSecondsDefault = 10;

/** Runs the CLI with `argv`; answers the exit status. */
export async function main(argv: readonly string[]): Promise<number> {
  let args: ParsedArgs;
  let client: CmqdClient;
  try {
    args = parseArgs(argv);
    if (args.flags.has("help") || args.positionals[0] === "help") {
      process.stdout.write(usage);
      return 0;
    }
    if (args.positionals.length === 0) {
      // Bad usage: the hint goes where errors go, and stdout stays empty (`--json` promises JSON).
      process.stderr.write(usage);
      return 2;
    }
    client = clientOf(args);
  } catch (error) {
    // Reading CMQD_URL or the credentials' variables without --allow-env.
    const missing = missingPermissionText(error);
    if (missing !== undefined) {
      process.stderr.write(missing);
      return missingPermissionExitStatus;
    }
    if (error instanceof UsageError) return usageFailure(error);
    // Anything else while parsing or building the client is a bug of the CLI's own, reported
    // as the commands' are (not left to escape `main` as an uncaught error, exit 1).
    process.stderr.write(bugText(error));
    return bugExitStatus;
  }
  const interrupted = new AbortController();
  let ctrlC = false;
  const onInterrupt = () => {
    ctrlC = true;
    interrupted.abort();
  };
  process.on("SIGINT", onInterrupt);
  // A reader that closes standard output (`| head -n 5`) ends the command.
  let outputClosed = false;
  const onOutputError = () => {
    outputClosed = true;
    interrupted.abort();
  };
  watchOutputErrors();
  outputErrorListener = onOutputError;
  const terminal = process.stderr.isTTY === true;
  const outputClosedFailure = () => {
    process.stderr.write("error: standard output was closed; stopped\n");
    return 1;
  };
  try {
    const status = await runCommand({
      client,
      args,
      json: args.flags.has("json"),
      out: (text) => {
        if (!outputClosed) process.stdout.write(text + "\n");
        // The failed write is known at once (its error event comes later): the line was not
        // printed, so the command stops here (`tail --delete` leaves that message undeleted).
        if (outputClosed || process.stdout.errored) {
          onOutputError();
          throw new OutputClosed();
        }
      },
      note: (text) => process.stderr.write(text + "\n"),
      progress: (text, final) => {
        if (terminal) process.stderr.write(`\r${text}${final ? "\n" : ""}`);
        else process.stderr.write(text + "\n");
      },
      signal: interrupted.signal,
      nodes: nodesOf(args),
    });
    // A command that stopped on it without an error (`tail --delete` gives the unprinted
    // message back) still did not print what it had to.
    return outputClosed ? outputClosedFailure() : status;
  } catch (error) {
    if (error instanceof UsageError) return usageFailure(error);
    if (outputClosed) return outputClosedFailure();
    // The user's setup: Deno run without --allow-net (or --allow-env), or the system refusing.
    const missing = missingPermissionText(error);
    if (missing !== undefined) {
      process.stderr.write(missing);
      return missingPermissionExitStatus;
    }
    const refused = systemRefusalText(error, nodesOf(args));
    if (refused !== undefined) {
      process.stderr.write(refused);
      return 1;
    }
    // An answer of another shape than the API's (some other service at that URL) is checked
    // where the command reads it (`answers.ts`): an `UnexpectedResponse`, without a stack trace.
    // Anything else — a TypeError included — is a bug of the CLI's own, and said so.
    if (!(error instanceof CmqdError)) {
      process.stderr.write(bugText(error));
      return bugExitStatus;
    }
    const failure = error;
    // The call Ctrl-C aborted: no error of the broker's, and the shell's status for SIGINT.
    if (ctrlC && failure.code === "Aborted") {
      process.stderr.write("interrupted\n");
      return 130;
    }
    process.stderr.write(`error: ${failureText(failure, nodesOf(args))}\n`);
    return 1;
  } finally {
    process.off("SIGINT", onInterrupt);
    outputErrorListener = () => {};
    client.close();
  }
}

/** Told of an error writing to stdout (EPIPE: its reader closed it) while a command runs. */
let outputErrorListener: () => void = () => {};
let watchingOutputErrors = false;

/**
 * Listens for the `error` events of stdout and stderr once per process, for good: such an event
 * comes a tick after the failed write, maybe after the command ended, and one nobody listens to
 * is an uncaught error (a stack trace). Errors writing to stderr are ignored.
 */
function watchOutputErrors(): void {
  if (watchingOutputErrors) return;
  watchingOutputErrors = true;
  process.stdout.on("error", () => outputErrorListener());
  process.stderr.on("error", () => {});
}

/** Standard output was closed by its reader: the line was not printed. */
class OutputClosed extends Error {
  constructor() {
    super("standard output was closed");
    this.name = "OutputClosed";
  }
}

/** The nodes `--url` (or `CMQD_URL`) names. */
function nodesOf(args: ParsedArgs): string[] {
  return (args.flags.get("url") ?? process.env.CMQD_URL ?? defaultUrl).split(",")
    .map((url) => url.trim()).filter((url) => url !== "");
}

/**
 * The client the flags describe. Bad flags (a bad URL, bad credentials) are bad usage
 * (`UsageError`); anything else thrown while the client is built (by `construct`, the client's
 * constructor unless a test gives another) is a bug and goes through as it is.
 */
export function clientOf(
  args: ParsedArgs,
  construct: (options: CmqdClientOptions) => CmqdClient = (options) => new CmqdClient(options),
): CmqdClient {
  const source = args.flags.has("url") ? "--url" : "CMQD_URL";
  const urls = nodesOf(args);
  if (urls.length === 0) throw new UsageError(`${source} names no node`);
  for (const url of urls) checkBaseUrl(url, source);
  const secretId = args.flags.get("secret-id") ?? process.env.CMQD_SECRET_ID;
  const secretKey = args.flags.get("secret-key") ?? process.env.CMQD_SECRET_KEY;
  if ((secretId === undefined) !== (secretKey === undefined)) {
    throw new UsageError("give both --secret-id and --secret-key (or neither)");
  }
  if (args.flags.has("secret-key")) {
    // Any user of the machine can read a process's arguments (ps, /proc/PID/cmdline).
    process.stderr.write(
      "note: --secret-key is visible to other users of this machine (ps); " +
        "give it in CMQD_SECRET_KEY instead\n",
    );
  }
  const timeoutSeconds = integerFlag(
    args,
    "request-timeout-seconds",
    { min: 1, max: 3600 },
    requestTimeoutSecondsDefault,
  )!;
  const headTimeoutMs = integerFlag(args, "head-timeout-ms", { min: 1, max: 3_600_000 });
  const credentials = secretId !== undefined && secretKey !== undefined
    ? { secretId, secretKey }
    : undefined;
  try {
    // The client's own checks of what the user gave (the rest of its options are the CLI's,
    // already in range): what they refuse is bad usage.
    for (const url of urls) sdkCheckBaseUrl(url);
    checkCredentials(credentials);
  } catch (error) {
    throw new UsageError(`bad --url or credentials: ${(error as Error).message}`);
  }
  // Signed (CMQD1-HMAC-SHA256) on every request; the secret key itself is never sent. Whatever
  // the constructor throws now is a bug, reported as one by `main` (exit 70).
  return construct({
    baseUrl: urls,
    credentials,
    timeoutMs: timeoutSeconds * 1000,
    headTimeoutMs,
  });
}

/**
 * A broker's base URL, `http(s)://host[:port]`, checked here: a typo is bad usage, not a network
 * failure. A path, query or fragment would be glued in front of every request's path, and a
 * `user:password@` would be sent nowhere yet printed in every error: both are refused, the
 * password not repeated.
 */
function checkBaseUrl(url: string, source: string): void {
  let parsed: URL | null = null;
  try {
    parsed = new URL(url);
  } catch { /* not a URL: refused below */ }
  if (parsed !== null && (parsed.username !== "" || parsed.password !== "")) {
    throw new UsageError(
      `bad ${source} '${parsed.protocol}//…@${parsed.host}': a key goes in --secret-id/--secret-key ` +
        "(env CMQD_SECRET_ID, CMQD_SECRET_KEY), not in the URL",
    );
  }
  if (
    parsed === null || !["http:", "https:"].includes(parsed.protocol) || parsed.host === "" ||
    parsed.pathname !== "/" || parsed.search !== "" || parsed.hash !== "" || url.endsWith("?") ||
    url.endsWith("#")
  ) {
    throw new UsageError(`bad ${source} '${url}': give a base URL like http://127.0.0.1:9876`);
  }
}

function usageFailure(error: UsageError): number {
  process.stderr.write(`error: ${error.message}\n(run with --help for the commands)\n`);
  return 2;
}

if (import.meta.main) {
  // Exits now: after Ctrl-C a request already on the wire (a `send --count` batch, which the
  // producer does not abort) would otherwise keep the process alive through the client's
  // retries — 40 s against a frozen node — after the command has printed its summary. Nothing
  // else is left once `main` returns (stdout and stderr writes are synchronous).
  process.exit(await main(process.argv.slice(2)));
}
