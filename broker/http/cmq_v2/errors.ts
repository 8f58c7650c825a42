/**
 * CMQ's error vocabulary and the one table that turns the service's typed errors into it.
 *
 * Every answer of the door is HTTP 200 with `{code, message, requestId}`; `code` 0 is success.
 * Codes and module codes are those of Tencent CMQ's documentation ("错误码", product 406/5903)
 * and of its official SDKs (the exception docs of cmq-python-sdk): a 4000 answer's message
 * starts with the module code in parentheses, `(10380)msgBody parameter is not consequent`.
 *
 * @module
 */
import { BrokerError, type ErrorCode } from "./deps.ts";
import type { CmqParams } from "./params.ts";

/** CMQ's top-level result codes (the `code` field). */
export const cmqCode = {
  success: 0,
  /** Invalid parameter; the message starts with a module code. */
  invalidParameter: 4000,
  /** Signature, key or timestamp not accepted ("鉴权失败: 密钥不存在/失效"). */
  authenticationFailed: 4100,
  /**
   * The key may not do this action on this resource: Tencent Cloud API 2.0's common code
   * "未授权访问当前接口所操作的资源" (CMQ's own list has no entry for it).
   */
  accessDenied: 4103,
  /** A message is larger than the queue's maxMsgSize. */
  messageTooLarge: 4400,
  /** The queue holds maxMsgHeapNum messages. */
  backlogFull: 4410,
  /** The receipt handle is malformed, of another delivery, or its message is gone. */
  receiptHandleInvalid: 4430,
  queueNotFound: 4440,
  /** The group holds as many queues (or topics) as it may (cmqd's `queuesMax`, `topicsMax`). */
  queueLimitExceeded: 4450,
  queueAlreadyExists: 4460,
  internalError: 6000,
  /** BatchDeleteMessage: some handles failed (`errorList` names them). */
  batchDeletePartlyFailed: 6010,
  /** BatchDeleteMessage: every handle failed (TDMQ CMQ's documentation). */
  batchDeleteFailed: 6020,
  /** RewindQueue on a queue whose `rewindSeconds` is 0; module `(10670)`. */
  queueCannotRewind: 6050,
  /** No message arrived within the wait; module `(10200)`. */
  noMessage: 7000,
} as const;

/** CMQ's module codes of 4000 answers (the "模块错误码" column of CMQ's error table). */
export const moduleCode = {
  invalidRequest: 10000,
  parameterError: 10110,
  noMessage: 10200,
  actionNotExisting: 10280,
  keyFormat: 10310,
  notRepeatable: 10330,
  outOfRange: 10350,
  wrongType: 10360,
  batchSizeOutOfRange: 10370,
  notContiguous: 10380,
  missingParameter: 10390,
  methodNotSupported: 10410,
  /** With code 6050: the queue keeps no deleted messages to rewind to (RewindQueue). */
  rewindDisabled: 10670,
  /** A `startConsumeTime` RewindQueue can't take (here: one after the broker's time). */
  invalidRewindTime: 10680,
  /** A `rewindSeconds` above the queue's `msgRetentionSeconds` (CreateQueue, SetQueueAttributes). */
  rewindOverRetention: 10700,
} as const;

/**
 * A failure answered in CMQ's shape. `fields` are extra members of the answer (the
 * `errorList` of BatchDeleteMessage).
 *
 * @example
 * ```ts
 * throw new CmqError(cmqCode.queueNotFound, "queue 'orders' does not exist");
 * ```
 */
export class CmqError extends Error {
  readonly code: number;
  readonly fields: Readonly<Record<string, unknown>>;

  constructor(code: number, message: string, fields: Record<string, unknown> = {}) {
    super(message);
    this.name = "CmqError";
    this.code = code;
    this.fields = fields;
  }
}

/**
 * A 4000 answer whose message starts with `module` in parentheses, as CMQ writes it.
 *
 * @example
 * ```ts
 * throw invalidParameter(moduleCode.notContiguous, "msgBody parameter is not consequent");
 * ```
 */
export function invalidParameter(module: number, message: string): CmqError {
  return new CmqError(cmqCode.invalidParameter, `(${module})${message}`);
}

/** How one service error code reads in CMQ. */
interface Translation {
  code: number;
  /** For 4000: the module code the message starts with. */
  module?: number;
}

/** Service codes that reach the door but are not members of `ErrorCode`: per-handle failures. */
type HandleFailureCode = "ReceiptHandleStale" | "MessageNotInflight";

/**
 * The one mapping from the service's error codes to CMQ's. Typed over every `ErrorCode`, so a
 * code added to the service fails to compile here until it is given a CMQ meaning.
 */
const serviceErrors: Record<ErrorCode | HandleFailureCode, Translation> = {
  InvalidParameter: { code: cmqCode.invalidParameter, module: moduleCode.parameterError },
  MalformedRequest: { code: cmqCode.invalidParameter, module: moduleCode.invalidRequest },
  UnsupportedMediaType: { code: cmqCode.invalidParameter, module: moduleCode.invalidRequest },
  NotFound: { code: cmqCode.invalidParameter, module: moduleCode.invalidRequest },
  MethodNotAllowed: { code: cmqCode.invalidParameter, module: moduleCode.methodNotSupported },
  BatchTooLarge: { code: cmqCode.invalidParameter, module: moduleCode.batchSizeOutOfRange },
  RequestTooLarge: { code: cmqCode.invalidParameter, module: moduleCode.outOfRange },
  // A body that stopped arriving: the request was not read, as one that failed to arrive.
  RequestTimeout: { code: cmqCode.invalidParameter, module: moduleCode.invalidRequest },
  Unauthenticated: { code: cmqCode.authenticationFailed },
  AccessDenied: { code: cmqCode.accessDenied },
  MessageTooLarge: { code: cmqCode.messageTooLarge },
  BacklogFull: { code: cmqCode.backlogFull },
  // Sends are refused until disk is freed; like a full backlog, the producer should back off
  // and retry later, and 4410 is the CMQ code that makes SDK users do that.
  InsufficientStorage: { code: cmqCode.backlogFull },
  ReceiptHandleInvalid: { code: cmqCode.receiptHandleInvalid },
  ReceiptHandleStale: { code: cmqCode.receiptHandleInvalid },
  MessageNotInflight: { code: cmqCode.receiptHandleInvalid },
  QueueNotFound: { code: cmqCode.queueNotFound },
  QueueLimitExceeded: { code: cmqCode.queueLimitExceeded },
  // CMQ's table has one count-limit code (4450, written for queues); topics share it.
  TopicLimitExceeded: { code: cmqCode.queueLimitExceeded },
  // CMQ answers a missing topic or subscription with the same "does not exist" code.
  TopicNotFound: { code: cmqCode.queueNotFound },
  SubscriptionNotFound: { code: cmqCode.queueNotFound },
  QueueAlreadyExists: { code: cmqCode.queueAlreadyExists },
  // CMQ's documented table has one "already exists" code (4460, written for queues); like the
  // not-found codes above, topics and subscriptions share it.
  TopicAlreadyExists: { code: cmqCode.queueAlreadyExists },
  SubscriptionAlreadyExists: { code: cmqCode.queueAlreadyExists },
  InternalError: { code: cmqCode.internalError },
  // CMQ has no "retry elsewhere" code; 6000 is the one its SDK users already retry on.
  NoLeader: { code: cmqCode.internalError },
  NotReady: { code: cmqCode.internalError },
  NodeRemoved: { code: cmqCode.internalError },
};

/** cmqd's attribute names as CMQ's parameters call them, for error messages. */
const cmqNames: Record<string, string> = {
  visibilityTimeoutSeconds: "visibilityTimeout",
  maxMessageBytes: "maxMsgSize",
  retentionSeconds: "msgRetentionSeconds",
  maxBacklog: "maxMsgHeapNum",
  timestamp: "startConsumeTime",
};
const cmqNamePattern = new RegExp(`\\b(${Object.keys(cmqNames).join("|")})\\b`, "g");

/**
 * The CMQ name of entry `index` of the service's list that the client sent as `base` (`msgBody`):
 * the single parameter when it sent one (`msgBody` of SendMessage), else the numbered one as it
 * numbered them, from 0 or from 1 (`msgBody.1`, the default when the request is not known).
 */
function listName(params: CmqParams | undefined, base: string, index: number): string {
  if (index === 0 && params?.get(base) !== undefined) return base;
  const first = params?.get(`${base}.0`) !== undefined ? 0 : 1;
  return `${base}.${index + first}`;
}

/** Service field names in error messages, and the CMQ parameter each stands for. */
const fieldRenames: [RegExp, (params: CmqParams | undefined, index: string) => string][] = [
  [/\bmessages\.(\d+)\.body\b/g, (params, index) => listName(params, "msgBody", Number(index))],
  [/\bmessages\.\d+\.tags\.(\d+)\b/g, (params, index) => listName(params, "msgTag", Number(index))],
  [/\bmessages\.\d+\.tags\b/g, () => "msgTag"],
  // The C++ SDK's BatchPublishMessage sends `routingkey`.
  [
    /\bmessages\.\d+\.routingKey\b/g,
    (params) => params?.spelling("routingKey", "routingkey") ?? "routingKey",
  ],
  [
    /\breceiptHandles\.(\d+)\b/g,
    (params, index) => listName(params, "receiptHandle", Number(index)),
  ],
  [/\bfilterTags\.(\d+)\b/g, (params, index) => listName(params, "filterTag", Number(index))],
  [/\bbindingKeys\.(\d+)\b/g, (params, index) => listName(params, "bindingKey", Number(index))],
  [/\bfilterTags\b/g, () => "filterTag"],
  [/\bbindingKeys\b/g, () => "bindingKey"],
  [/\bendpoint\.(?:url|queue)\b/g, () => "endpoint"],
];

/**
 * `message` in CMQ's terms: attribute names renamed (`maxBacklog` → `maxMsgHeapNum`) and the
 * service's field names as the parameters the client sent (`messages.0.body` → `msgBody.1`, or
 * `msgBody.0` when its list starts at 0; `filterTags.0` → `filterTag.1`).
 */
function inCmqTerms(message: string, params?: CmqParams): string {
  let text = message;
  for (const [pattern, rename] of fieldRenames) {
    text = text.replace(pattern, (_, index) => rename(params, index));
  }
  return text.replace(cmqNamePattern, (name) => cmqNames[name]);
}

/** The CMQ code of a per-handle failure code of a delete (`ReceiptHandleStale` → 4430). */
export function handleFailureCode(code: string): number {
  return (serviceErrors as Record<string, Translation | undefined>)[code]?.code ??
    cmqCode.receiptHandleInvalid;
}

/**
 * `error` as a CMQ answer, or null when it is not an expected failure (a bug: the caller
 * logs it and answers 6000). `params`, the request's, names fields as the client sent them.
 */
export function toCmqError(error: unknown, params?: CmqParams): CmqError | null {
  if (error instanceof CmqError) return error;
  if (!(error instanceof BrokerError)) return null;
  const translation = (serviceErrors as Record<string, Translation | undefined>)[error.code] ??
    { code: cmqCode.internalError };
  const message = inCmqTerms(error.message, params);
  return translation.module === undefined
    ? new CmqError(translation.code, message)
    : new CmqError(translation.code, `(${translation.module})${message}`);
}
