/**
 * The tag operations of the SQS door: TagQueue, UntagQueue and ListQueueTags over the queue's
 * tags (SQS's limits and characters, checked by the service). TagQueue and UntagQueue are one
 * replicated change each, applied to the tags the queue has when it commits, so concurrent tag
 * changes of one queue never lose one another. Changing tags needs `queue:<name>:manage`,
 * listing them `queue:<name>:read`.
 *
 * @module
 */
import { authorize, existingQueue, type OperationContext } from "./context.ts";
import { missingParameter } from "./errors.ts";
import { type JsonObject, optionalStringList, optionalStringMap } from "./input.ts";
import { queueOfInput } from "./queue_operations.ts";

/** TagQueue: adds the Tags given, overwriting the values of keys the queue has. */
export async function tagQueue(context: OperationContext): Promise<JsonObject> {
  const queue = queueOfInput(context);
  authorize(context, queue, "manage");
  const tags = optionalStringMap(context.input, "Tags");
  // An empty map is no parameter, as in SQS's query protocol where it sends nothing.
  if (tags === undefined || Object.keys(tags).length === 0) throw missingParameter("Tags");
  await existingQueue(context, queue);
  await context.service.changeQueueTags(queue.name, { set: tags });
  return {};
}

/** UntagQueue: removes the TagKeys given (keys the queue does not have are ignored). */
export async function untagQueue(context: OperationContext): Promise<JsonObject> {
  const queue = queueOfInput(context);
  authorize(context, queue, "manage");
  const keys = optionalStringList(context.input, "TagKeys");
  if (keys === undefined || keys.length === 0) throw missingParameter("TagKeys");
  await existingQueue(context, queue);
  await context.service.changeQueueTags(queue.name, { remove: keys });
  return {};
}

/** ListQueueTags: the queue's tags (no `Tags` member when it has none). */
export async function listQueueTags(context: OperationContext): Promise<JsonObject> {
  const queue = queueOfInput(context);
  authorize(context, queue, "read");
  const found = await existingQueue(context, queue);
  const tags = found.tags ?? {};
  return Object.keys(tags).length === 0 ? {} : { Tags: { ...tags } };
}
