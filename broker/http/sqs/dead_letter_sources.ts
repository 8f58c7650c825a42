/**
 * ListDeadLetterSourceQueues, and the scan it shares with the message move tasks: the queues
 * whose RedrivePolicy (cmqd's `deadLetter`) names a given queue as their dead-letter queue.
 *
 * cmqd keeps a queue's dead-letter target on the source queue only, so the sources of a queue
 * are found by reading every queue's attributes (in pages of the service's list, as ListQueues
 * reads them). A source is always of the dead-letter queue's kind (the service refuses a
 * dead-letter queue of the other kind).
 *
 * @module
 */
import { listLimits, type Queue } from "./broker_deps.ts";
import { authorize, existingQueue, type OperationContext } from "./context.ts";
import type { JsonObject } from "./input.ts";
import { optionalInteger, optionalString } from "./input.ts";
import { decodeNextToken, encodeNextToken, queueOfInput } from "./queue_operations.ts";

/** Every queue whose dead-letter queue is the cmqd queue `name`, in name order. */
export async function deadLetterSources(
  context: OperationContext,
  name: string,
): Promise<Queue[]> {
  const sources: Queue[] = [];
  const limit = listLimits.limit.max;
  // Page by the last name read, not by position: a queue deleted meanwhile shifts none ahead.
  let after: string | undefined;
  for (;;) {
    const page = await context.service.listQueues({ after, limit });
    for (const queue of page.queues) {
      if (queue.deadLetter?.queue === name) sources.push(queue);
    }
    if (page.queues.length >= page.total) return sources;
    after = page.queues.at(-1)!.name;
  }
}

/**
 * ListDeadLetterSourceQueues: the URLs of the queues whose RedrivePolicy names QueueUrl, in
 * pages of MaxResults (1–1000; NextToken only when MaxResults was given, as in SQS). Needs
 * `read` on the dead-letter queue; as ListQueues, a key sees only the sources it may read
 * (left out before paging, so a page is full unless it is the last).
 */
export async function listDeadLetterSourceQueues(
  context: OperationContext,
): Promise<JsonObject> {
  const queue = queueOfInput(context);
  authorize(context, queue, "read");
  const maxResults = optionalInteger(context.input, "MaxResults", { min: 1, max: 1000 });
  const token = optionalString(context.input, "NextToken");
  const scope = `dead letters of ${queue.sqsName}`;
  const position = token === undefined ? { offset: 0 } : decodeNextToken(token, scope);
  await existingQueue(context, queue);
  const readable = (await deadLetterSources(context, queue.name))
    .filter((source) => context.allows(source.name, "read"));
  // The sources are in name order: the page goes on after the last name the one before answered.
  const { after } = position;
  const next = after === undefined ? -1 : readable.findIndex((source) => source.name > after);
  const start = after === undefined ? position.offset : next < 0 ? readable.length : next;
  const end = start + (maxResults ?? 1000);
  const page = readable.slice(start, end);
  const output: JsonObject = {
    queueUrls: page.map((source) => context.addresses.url(source)),
  };
  if (maxResults !== undefined && end < readable.length) {
    output.NextToken = encodeNextToken({ after: page.at(-1)!.name, prefix: scope });
  }
  return output;
}
