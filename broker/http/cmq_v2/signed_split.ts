/**
 * Where CMQ's signature can't tell one parameter set from another. The string to sign joins the
 * parameters as `name=value&name=value…` with names and values as sent, not encoded
 * (`signature.ts`), so a value holding `&x=` reads there exactly like a value that ends before the
 * `&` followed by a parameter `x`: a captured `BatchSendMessage` of `msgBody.1=a`, `msgBody.2=b`
 * verifies again as one message `msgBody.1` = `a&msgBody.2=b`, a `PublishMessage` loses its
 * `msgTag.1` into its `msgBody`, a `Subscribe` its `filterTag.1` into its URL `endpoint`. The same
 * goes for a name holding `&` or `=`. And `_` is signed as `.`: `filterTag_1`, which the door
 * does not read, signs like `filterTag.1`, so renaming a captured request's `filterTag.1` dropped
 * its filter (a `msgBody.2`, its second message) without breaking the signature.
 *
 * So a signed request is refused (CMQ's 4100) when one of its parameter names holds `&` or `=`
 * (no SDK sends such a name), or a name with `_` whose `.` form is a parameter its action reads
 * (the door reads only the `.` form; the SDKs send it), or when a value holds `&x=` where `x` is a parameter its action reads
 * (also as `readName` takes it: `&subscriptionName =`, `&filterTag,2=`)
 * (a numbered one as `msgBody.2` or `msgBody_2`) that the request does not carry: that request is
 * the same, to the signature, as one that carried `x`. An honest request is refused only when a
 * value holds such text, e.g. a message body with `&delaySeconds=` sent without `delaySeconds`;
 * its sender has to write that text otherwise. Values holding `&` otherwise (URLs with queries in
 * message bodies) are not concerned. Without credentials nothing is signed, and nothing checked.
 *
 * @module
 */
import { type CmqParams, readName } from "./params.ts";

const queueAttributes = [
  "maxMsgHeapNum",
  "pollingWaitSeconds",
  "visibilityTimeout",
  "maxMsgSize",
  "msgRetentionSeconds",
  "rewindSeconds",
];
const listing = ["searchWord", "offset", "limit"];
const topicAttributes = ["maxMsgSize", "msgRetentionSeconds"];
const subscriptionSettings = ["filterTag", "bindingKey", "notifyStrategy", "notifyContentFormat"];
const publishing = ["topicName", "msgBody", "msgTag", "routingKey", "routingkey"];
const subscription = ["topicName", "subscriptionName"];

/**
 * The parameters each action reads (a numbered list by its base name), as the signature writes
 * them (`.` for `_`). `signed_split_test.ts` checks that every action of the door is here.
 */
export const parametersRead: ReadonlyMap<string, readonly string[]> = new Map([
  ["CreateQueue", ["queueName", ...queueAttributes]],
  ["ListQueue", listing],
  ["GetQueueAttributes", ["queueName"]],
  ["SetQueueAttributes", ["queueName", ...queueAttributes]],
  ["DeleteQueue", ["queueName"]],
  ["RewindQueue", ["queueName", "startConsumeTime"]],
  ["SendMessage", ["queueName", "msgBody", "delaySeconds"]],
  ["BatchSendMessage", ["queueName", "msgBody", "delaySeconds"]],
  ["ReceiveMessage", ["queueName", "pollingWaitSeconds"]],
  ["BatchReceiveMessage", ["queueName", "numOfMsg", "pollingWaitSeconds"]],
  ["DeleteMessage", ["queueName", "receiptHandle"]],
  ["BatchDeleteMessage", ["queueName", "receiptHandle"]],
  ["CreateTopic", ["topicName", "filterType", ...topicAttributes]],
  ["ListTopic", listing],
  ["GetTopicAttributes", ["topicName"]],
  ["SetTopicAttributes", ["topicName", ...topicAttributes]],
  ["DeleteTopic", ["topicName"]],
  ["PublishMessage", publishing],
  ["BatchPublishMessage", publishing],
  ["Subscribe", [...subscription, "protocol", "endpoint", ...subscriptionSettings]],
  ["Unsubscribe", subscription],
  ["ListSubscriptionByTopic", ["topicName", ...listing]],
  ["GetSubscriptionAttributes", subscription],
  ["SetSubscriptionAttributes", [...subscription, ...subscriptionSettings]],
  ["ClearSubscriptionFilterTags", subscription],
  ["ClearSUbscriptionFIlterTags", subscription],
]);

/** `name` as the string to sign writes it. */
function signedName(name: string): string {
  return name.replaceAll("_", ".");
}

/**
 * The parameter that `name`, written so in the string to sign, is read as: `.` for `_`, then
 * `readName` (`subscriptionName ` is read as `subscriptionName`, `filterTag,1` as `filterTag.1`).
 */
function readAs(name: string): string {
  return readName(signedName(name));
}

/** Whether `name` (signed form) is one of `bases` or a numbered entry of one (`msgBody.2`). */
function isRead(name: string, bases: readonly string[]): boolean {
  const dot = name.indexOf(".");
  const base = dot < 0 ? name : name.slice(0, dot);
  if (dot >= 0 && !/^[0-9]+$/.test(name.slice(dot + 1))) return false;
  return bases.includes(base);
}

/**
 * Why the signature of `params` can't tell them from another set of parameters its action would
 * read differently, or null when it can (see the module's note). `Signature` itself is not signed.
 *
 * @example
 * ```ts
 * signedSplitOf(parseParams("", "Action=BatchSendMessage&msgBody.1=a%26msgBody.2%3Db"));
 * // "the value of msgBody.1 holds '&msgBody.2=', …"
 * ```
 */
export function signedSplitOf(params: CmqParams): string | null {
  const bases = parametersRead.get(params.get("Action") ?? "") ?? [];
  let present: Set<string> | undefined;
  for (const [name, value] of params.signedEntries()) {
    if (name === "Signature") continue;
    if (name.includes("&") || name.includes("=")) {
      return `the parameter name ${JSON.stringify(name.slice(0, 64))} holds '&' or '=', which ` +
        "the signature can't tell from the parameters around it";
    }
    if (name.includes("_") && isRead(readAs(name), bases)) {
      return `the parameter name ${JSON.stringify(name.slice(0, 64))} signs as ` +
        `${signedName(name)}, which this action reads, and only under that name: the signature ` +
        "can't tell the two apart";
    }
    for (let at = value.indexOf("&"); at >= 0; at = value.indexOf("&", at + 1)) {
      const equals = value.indexOf("=", at + 1);
      if (equals < 0) break;
      const next = value.slice(at + 1, equals);
      if (next === "" || next.includes("&")) continue;
      const split = readAs(next);
      if (!isRead(split, bases)) continue;
      present ??= new Set([...params.names()].map(readAs));
      if (present.has(split)) continue;
      return `the value of ${name} holds '&${next}=', which the signature can't tell from a ` +
        `separate parameter ${next} (a request altered after signing reads the same); write that ` +
        "text another way";
    }
  }
  return null;
}
