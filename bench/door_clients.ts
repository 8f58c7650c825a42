/**
 * Load-generator clients that speak the compatible doors' wire formats instead of v1, so one run
 * can compare what translation costs (`--client cmq`, `--client sqs` beside `--client fetch`).
 *
 * - CMQ v2: form-encoded POSTs to `/v2/index.php` without a content type (as the official SDKs
 *   send them), `BatchSendMessage` / `BatchReceiveMessage` / `BatchDeleteMessage` of at most 16.
 * - SQS: AWS JSON 1.0 with `X-Amz-Target`, `SendMessageBatch` / `ReceiveMessage` /
 *   `DeleteMessageBatch` of at most 10 (SQS's own limit, so a batch of 16 becomes 10 + 6).
 *
 * Both run against a broker without credentials (signatures are not checked then). Neither door
 * has receive-and-delete in one request, so a receive carrying handles deletes them first, in a
 * separate request: that is what a client of these doors pays.
 *
 * @module
 */
import type {
  DeleteMessagesResponse,
  Queue,
  QueueAttributesInput,
  ReceivedMessage,
  ReceiveMessagesRequest,
  ReceiveMessagesResponse,
  SendMessageEntry,
  SendMessagesResponse,
} from "../sdk/mod.ts";
import { BareHttp, type BareTransport, type BenchClient, BenchHttpError } from "./bench_client.ts";

/** Splits `items` into chunks of at most `size`. */
function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let at = 0; at < items.length; at += size) out.push(items.slice(at, at + size));
  return out;
}

/** A queue as far as a door's attribute call tells it (the counts the load shapes read). */
function queueView(name: string, counts: { active: number; inflight: number; delayed: number }) {
  return {
    name,
    visibilityTimeoutSeconds: 0,
    pollingWaitSeconds: 0,
    maxMessageBytes: 0,
    retentionSeconds: 0,
    rewindSeconds: 0,
    maxBacklog: 0,
    fifo: false,
    createdAt: 0,
    modifiedAt: 0,
    activeMessages: counts.active,
    inflightMessages: counts.inflight,
    delayedMessages: counts.delayed,
    rewindableMessages: 0,
    oldestMessageAt: null,
  } satisfies Queue;
}

/** The CMQ v2 door over `fetch` or `Http1Transport`, with its own connection pool. */
export class CmqBenchClient implements BenchClient {
  readonly #url: string;
  readonly #http: BareHttp;

  constructor(baseUrl: string, over: BareTransport = "fetch") {
    this.#url = `${baseUrl.replace(/\/+$/, "")}/v2/index.php`;
    this.#http = new BareHttp(over);
  }

  async #call(params: Record<string, string | number>): Promise<Record<string, unknown>> {
    // As the official SDKs send it: a form body without a content-type. `encodeURIComponent`
    // leaves `!'()*` and writes a space as `%20` where a form encoder writes `+`: both decode
    // the same, and it costs this client a fraction of `URLSearchParams`'s `toString` (the
    // harness's cost, not the broker's, on a machine the two share).
    let form = "";
    for (const key in params) {
      form += `${form === "" ? "" : "&"}${key}=${encodeURIComponent(params[key])}`;
    }
    const { status, text } = await this.#http.request("POST", this.#url, {}, form);
    const reply = JSON.parse(text) as Record<string, unknown>;
    const code = reply.code as number;
    // 7000: no message (an empty receive); 6010/6020: a batch delete partly or wholly failed.
    if (code !== 0 && code !== 7000 && code !== 6010 && code !== 6020) {
      throw new BenchHttpError(status, `cmq ${code}`, String(reply.message));
    }
    return reply;
  }

  async createQueue(name: string, attributes: QueueAttributesInput): Promise<Queue> {
    const params: Record<string, string | number> = { Action: "CreateQueue", queueName: name };
    if (attributes.visibilityTimeoutSeconds !== undefined) {
      params.visibilityTimeout = attributes.visibilityTimeoutSeconds;
    }
    await this.#call(params);
    return await this.getQueue(name);
  }

  async getQueue(name: string): Promise<Queue> {
    const reply = await this.#call({ Action: "GetQueueAttributes", queueName: name });
    return queueView(name, {
      active: reply.activeMsgNum as number,
      inflight: reply.inactiveMsgNum as number,
      delayed: reply.delayMsgNum as number,
    });
  }

  async deleteQueue(name: string): Promise<void> {
    await this.#call({ Action: "DeleteQueue", queueName: name });
  }

  async sendMessages(queue: string, messages: SendMessageEntry[]): Promise<SendMessagesResponse> {
    const sent: SendMessagesResponse["messages"] = [];
    for (const batch of chunks(messages, 16)) {
      const params: Record<string, string | number> = {
        Action: "BatchSendMessage",
        queueName: queue,
      };
      batch.forEach((message, index) => params[`msgBody.${index + 1}`] = message.body);
      const reply = await this.#call(params);
      for (const item of reply.msgList as { msgId: string }[]) {
        sent.push({ id: item.msgId, sequence: 0 });
      }
    }
    return { messages: sent };
  }

  async receiveMessages(
    queue: string,
    request: ReceiveMessagesRequest,
  ): Promise<ReceiveMessagesResponse> {
    return await deleteThenReceive(this, queue, request, async () => {
      const reply = await this.#call({
        Action: "BatchReceiveMessage",
        queueName: queue,
        numOfMsg: Math.min(request.maxMessages ?? 1, 16),
        pollingWaitSeconds: request.waitSeconds ?? 0,
      });
      const list = (reply.msgInfoList ?? []) as {
        msgId: string;
        msgBody: string;
        receiptHandle: string;
      }[];
      return list.map((item) => receivedMessage(item.msgId, item.msgBody, item.receiptHandle));
    });
  }

  async deleteMessages(queue: string, receiptHandles: string[]): Promise<DeleteMessagesResponse> {
    let deleted = 0;
    for (const batch of chunks(receiptHandles, 16)) {
      const params: Record<string, string | number> = {
        Action: "BatchDeleteMessage",
        queueName: queue,
      };
      batch.forEach((handle, index) => params[`receiptHandle.${index + 1}`] = handle);
      const reply = await this.#call(params);
      deleted += batch.length - ((reply.errorList as unknown[] | undefined)?.length ?? 0);
    }
    return { deleted, failures: [] };
  }

  close(): void {
    this.#http.close();
  }
}

/**
 * Neither door receives and deletes in one request: the handles a receive carries are deleted
 * first, in their own request, then `receive` runs.
 */
async function deleteThenReceive(
  client: BenchClient,
  queue: string,
  request: ReceiveMessagesRequest,
  receive: () => Promise<ReceivedMessage[]>,
): Promise<ReceiveMessagesResponse> {
  if (request.deleteReceiptHandles === undefined) return { messages: await receive() };
  const { deleted } = await client.deleteMessages(queue, request.deleteReceiptHandles);
  return { messages: await receive(), deleted, failures: [] };
}

function receivedMessage(id: string, body: string, receiptHandle: string): ReceivedMessage {
  return {
    id,
    sequence: 0,
    body,
    receiptHandle,
    enqueuedAt: 0,
    firstReceivedAt: 0,
    receiveCount: 1,
    visibleAt: 0,
  };
}

/** The SQS door over `fetch` or `Http1Transport` (unsigned: the bench broker has no credentials). */
export class SqsBenchClient implements BenchClient {
  readonly #baseUrl: string;
  readonly #http: BareHttp;

  constructor(baseUrl: string, over: BareTransport = "fetch") {
    this.#baseUrl = baseUrl.replace(/\/+$/, "");
    this.#http = new BareHttp(over);
  }

  #queueUrl(name: string): string {
    return `${this.#baseUrl}/000000000000/${name}`;
  }

  async #call(operation: string, body: unknown): Promise<Record<string, unknown>> {
    const { status, text } = await this.#http.request("POST", `${this.#baseUrl}/`, {
      "content-type": "application/x-amz-json-1.0",
      "x-amz-target": `AmazonSQS.${operation}`,
    }, JSON.stringify(body));
    const reply = JSON.parse(text) as Record<string, unknown>;
    if (status < 200 || status > 299) {
      throw new BenchHttpError(status, String(reply.__type), String(reply.message));
    }
    return reply;
  }

  async createQueue(name: string, attributes: QueueAttributesInput): Promise<Queue> {
    const settings: Record<string, string> = {};
    if (attributes.visibilityTimeoutSeconds !== undefined) {
      settings.VisibilityTimeout = String(attributes.visibilityTimeoutSeconds);
    }
    await this.#call("CreateQueue", { QueueName: name, Attributes: settings });
    return await this.getQueue(name);
  }

  async getQueue(name: string): Promise<Queue> {
    const reply = await this.#call("GetQueueAttributes", {
      QueueUrl: this.#queueUrl(name),
      AttributeNames: ["All"],
    });
    const attributes = reply.Attributes as Record<string, string>;
    return queueView(name, {
      active: Number(attributes.ApproximateNumberOfMessages),
      inflight: Number(attributes.ApproximateNumberOfMessagesNotVisible),
      delayed: Number(attributes.ApproximateNumberOfMessagesDelayed),
    });
  }

  async deleteQueue(name: string): Promise<void> {
    await this.#call("DeleteQueue", { QueueUrl: this.#queueUrl(name) });
  }

  async sendMessages(queue: string, messages: SendMessageEntry[]): Promise<SendMessagesResponse> {
    const sent: SendMessagesResponse["messages"] = [];
    for (const batch of chunks(messages, 10)) {
      const reply = await this.#call("SendMessageBatch", {
        QueueUrl: this.#queueUrl(queue),
        Entries: batch.map((message, index) => ({ Id: String(index), MessageBody: message.body })),
      });
      for (const item of reply.Successful as { MessageId: string }[]) {
        sent.push({ id: item.MessageId, sequence: 0 });
      }
    }
    return { messages: sent };
  }

  async receiveMessages(
    queue: string,
    request: ReceiveMessagesRequest,
  ): Promise<ReceiveMessagesResponse> {
    return await deleteThenReceive(this, queue, request, async () => {
      const reply = await this.#call("ReceiveMessage", {
        QueueUrl: this.#queueUrl(queue),
        MaxNumberOfMessages: Math.min(request.maxMessages ?? 1, 10),
        WaitTimeSeconds: request.waitSeconds ?? 0,
      });
      const list = (reply.Messages ?? []) as {
        MessageId: string;
        Body: string;
        ReceiptHandle: string;
      }[];
      return list.map((item) => receivedMessage(item.MessageId, item.Body, item.ReceiptHandle));
    });
  }

  async deleteMessages(queue: string, receiptHandles: string[]): Promise<DeleteMessagesResponse> {
    let deleted = 0;
    for (const batch of chunks(receiptHandles, 10)) {
      const reply = await this.#call("DeleteMessageBatch", {
        QueueUrl: this.#queueUrl(queue),
        Entries: batch.map((handle, index) => ({ Id: String(index), ReceiptHandle: handle })),
      });
      deleted += (reply.Successful as unknown[]).length;
    }
    return { deleted, failures: [] };
  }

  close(): void {
    this.#http.close();
  }
}
