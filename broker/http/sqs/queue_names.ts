/**
 * How SQS queue names, URLs and ARNs map to cmqd queues.
 *
 * cmqd names are 1–64 characters (a letter, then letters, digits, `-`, `_`) and never contain a
 * dot; a FIFO queue is a queue with `fifo: true`. SQS marks FIFO queues by the `.fifo` suffix.
 * So the SQS name of a cmqd queue is its name, plus `.fifo` when it is FIFO: `orders.fifo` is the
 * cmqd FIFO queue `orders`, and `orders` the standard queue `orders`. The mapping is one to one
 * (a standard `orders` and a FIFO `orders.fifo` can't both exist; creating the second is
 * `QueueNameExists`), and the same permission (`queue:orders:send`) covers every door.
 *
 * Queue URLs are `<scheme>://<Host header>/<accountId>/<SQS name>`, as SQS builds them, so a URL
 * handed out by one node works against any node a client can reach by the same host name.
 *
 * @module
 */
import { namePattern } from "./broker_deps.ts";
import { SqsError } from "./errors.ts";

const fifoSuffix = ".fifo";

/** A queue as the door addresses it. */
export interface QueueRef {
  /** The name SQS clients see (`orders.fifo`). */
  sqsName: string;
  /** The cmqd queue (`orders`). */
  name: string;
  fifo: boolean;
}

/** The SQS name of a cmqd queue. */
export function sqsNameOf(queue: { name: string; fifo: boolean }): string {
  return queue.fifo ? queue.name + fifoSuffix : queue.name;
}

/** Parses an SQS queue name; null when no cmqd queue can have it. */
export function parseQueueName(sqsName: string): QueueRef | null {
  const fifo = sqsName.endsWith(fifoSuffix);
  const name = fifo ? sqsName.slice(0, -fifoSuffix.length) : sqsName;
  if (!namePattern.test(name)) return null;
  return { sqsName, name, fifo };
}

/** Parses a queue name of CreateQueue / GetQueueUrl, refusing names cmqd can't hold. */
export function queueFromName(sqsName: string): QueueRef {
  const queue = parseQueueName(sqsName);
  if (queue === null) {
    throw new SqsError(
      "InvalidParameterValue",
      `Value ${
        sqsName.slice(0, 100)
      } for parameter QueueName is invalid. Reason: cmqd queue names are 1 to 64 characters: ` +
        "a letter, then alphanumeric characters, hyphens or underscores; FIFO queue names add " +
        "the .fifo suffix.",
    );
  }
  return queue;
}

/**
 * The queue a QueueUrl names. Accepts `<scheme>://<any host>/<accountId>/<name>` and the bare
 * path; the host is not checked, so URLs keep working across nodes and proxies.
 */
export function queueFromUrl(queueUrl: string): QueueRef {
  const known = parsedUrls.get(queueUrl);
  if (known !== undefined) return known;
  const queue = Object.freeze(parseQueueUrl(queueUrl));
  if (queueUrl.length <= cachedUrlCharsMax) {
    if (parsedUrls.size >= cachedUrlsMax) parsedUrls.clear();
    parsedUrls.set(queueUrl, queue);
  }
  return queue;
}

/**
 * Queue URLs parsed lately and what they name: a client sends the same few URLs with every
 * message request, and `new URL` is a measurable part of a small request's cost. Only URLs that
 * parse are kept (a refused one throws again each time); the map is emptied when full.
 */
const parsedUrls = new Map<string, QueueRef>();
const cachedUrlsMax = 1024;
const cachedUrlCharsMax = 512;

function parseQueueUrl(queueUrl: string): QueueRef {
  const invalid = () =>
    new SqsError("InvalidAddress", `The address ${queueUrl.slice(0, 200)} is not valid.`);
  let segments: string[];
  try {
    const path = queueUrl.startsWith("/") ? queueUrl : new URL(queueUrl).pathname;
    segments = path.split("/").filter((segment) => segment !== "").map(decodeURIComponent);
  } catch {
    throw invalid();
  }
  if (segments.length !== 2) throw invalid();
  const queue = parseQueueName(segments[1]);
  if (queue === null) {
    throw new SqsError("QueueDoesNotExist", "The specified queue does not exist.");
  }
  return queue;
}

/** The queue a dead-letter target ARN names (`arn:aws:sqs:<region>:<account>:<name>`). */
export function queueFromArn(arn: string): QueueRef | null {
  const parts = arn.split(":");
  if (parts.length !== 6 || parts[0] !== "arn" || parts[2] !== "sqs") return null;
  return parseQueueName(parts[5]);
}

/** Builds queue URLs and ARNs for one request. */
export class QueueAddresses {
  readonly #origin: string;
  readonly #accountId: string;
  readonly #region: string;

  /** `origin` is `<scheme>://<host>` as the client reached the door. */
  constructor(origin: string, options: { accountId: string; region: string }) {
    this.#origin = origin;
    this.#accountId = options.accountId;
    this.#region = options.region;
  }

  /** The origin of `request`: its scheme and its `Host` header as sent. */
  static originOf(request: Request): string {
    const url = new URL(request.url);
    const host = request.headers.get("host") ?? url.host;
    return `${url.protocol}//${host}`;
  }

  /** The account every queue URL and ARN names (SenderId of every message). */
  get accountId(): string {
    return this.#accountId;
  }

  /** The URL of a queue. */
  url(queue: { name: string; fifo: boolean }): string {
    return `${this.#origin}/${this.#accountId}/${sqsNameOf(queue)}`;
  }

  /** The ARN of a queue. */
  arn(queue: { name: string; fifo: boolean }): string {
    return `arn:aws:sqs:${this.#region}:${this.#accountId}:${sqsNameOf(queue)}`;
  }
}
