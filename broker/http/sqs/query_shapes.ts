/**
 * The shapes of SQS's query protocol (API version 2012-11-05): how each operation's input is
 * spelled as form parameters and how its output is spelled as XML. Every list and map of SQS is
 * "flattened": a list member `AttributeNames` is sent as `AttributeName.1`, `AttributeName.2`…;
 * a map member `Attributes` as `Attribute.1.Name` / `Attribute.1.Value`…; a structure's members
 * follow its own name and a dot (`MessageAttribute.1.Value.DataType`). The same names are the
 * XML elements of the answers (`<Attribute><Name>…</Name><Value>…</Value></Attribute>`).
 *
 * The member names are those of the JSON protocol, so a parsed query input is the JSON door's
 * input and a JSON door's output renders as the query answer (`query_protocol.ts`,
 * `query_xml.ts`).
 *
 * @module
 */

/** A flattened list: its items are `<item>.<n>` (n from 1), `item` also naming each XML item. */
export interface ListShape {
  kind: "list";
  item: string;
  of: Shape;
}

/** A flattened map: entries `<entry>.<n>.<key>` and `<entry>.<n>.<value>`. */
export interface MapShape {
  kind: "map";
  entry: string;
  key: string;
  value: string;
  of: Shape;
}

/** A structure: its members by their JSON names. */
export interface StructShape {
  kind: "struct";
  members: Record<string, Shape>;
}

/** Any shape; `"string"` also stands for blobs, sent and answered as base64 text. */
export type Shape = "string" | "integer" | "boolean" | ListShape | MapShape | StructShape;

const list = (item: string, of: Shape = "string"): ListShape => ({ kind: "list", item, of });
const map = (entry: string, key: string, value: string, of: Shape = "string"): MapShape => ({
  kind: "map",
  entry,
  key,
  value,
  of,
});
const struct = (members: Record<string, Shape>): StructShape => ({ kind: "struct", members });

/** The name a member of a structure is sent and answered under. */
export function wireName(member: string, shape: Shape): string {
  if (typeof shape === "string" || shape.kind === "struct") return member;
  return shape.kind === "list" ? shape.item : shape.entry;
}

const attributeValue = struct({
  StringValue: "string",
  BinaryValue: "string",
  StringListValues: list("StringListValue"),
  BinaryListValues: list("BinaryListValue"),
  DataType: "string",
});
const queueAttributes = map("Attribute", "Name", "Value");
const tags = map("Tag", "Key", "Value");
const messageAttributes = map("MessageAttribute", "Name", "Value", attributeValue);
const messageSystemAttributes = map("MessageSystemAttribute", "Name", "Value", attributeValue);
const failed = list(
  "BatchResultErrorEntry",
  struct({ Id: "string", SenderFault: "boolean", Code: "string", Message: "string" }),
);
const idOnly = struct({ Id: "string" });
const sendFields = {
  MessageBody: "string",
  DelaySeconds: "integer",
  MessageAttributes: messageAttributes,
  MessageSystemAttributes: messageSystemAttributes,
  MessageDeduplicationId: "string",
  MessageGroupId: "string",
} as const;
const sentFields = {
  MessageId: "string",
  MD5OfMessageBody: "string",
  MD5OfMessageAttributes: "string",
  MD5OfMessageSystemAttributes: "string",
  SequenceNumber: "string",
} as const;

/** One operation of the query protocol: its input and (when it answers any) its output. */
export interface QueryOperation {
  input: StructShape;
  output?: StructShape;
}

const queueUrlOnly = struct({ QueueUrl: "string" });

/** Every operation the door serves, by its `Action` name. */
export const queryOperations: Record<string, QueryOperation> = {
  CreateQueue: {
    input: struct({ QueueName: "string", Attributes: queueAttributes, tags }),
    output: struct({ QueueUrl: "string" }),
  },
  GetQueueUrl: {
    input: struct({ QueueName: "string", QueueOwnerAWSAccountId: "string" }),
    output: struct({ QueueUrl: "string" }),
  },
  ListQueues: {
    input: struct({ QueueNamePrefix: "string", NextToken: "string", MaxResults: "integer" }),
    output: struct({ QueueUrls: list("QueueUrl"), NextToken: "string" }),
  },
  GetQueueAttributes: {
    input: struct({ QueueUrl: "string", AttributeNames: list("AttributeName") }),
    output: struct({ Attributes: queueAttributes }),
  },
  SetQueueAttributes: { input: struct({ QueueUrl: "string", Attributes: queueAttributes }) },
  DeleteQueue: { input: queueUrlOnly },
  PurgeQueue: { input: queueUrlOnly },
  SendMessage: {
    input: struct({ QueueUrl: "string", ...sendFields }),
    output: struct(sentFields),
  },
  SendMessageBatch: {
    input: struct({
      QueueUrl: "string",
      Entries: list("SendMessageBatchRequestEntry", struct({ Id: "string", ...sendFields })),
    }),
    output: struct({
      Successful: list("SendMessageBatchResultEntry", struct({ Id: "string", ...sentFields })),
      Failed: failed,
    }),
  },
  ReceiveMessage: {
    input: struct({
      QueueUrl: "string",
      AttributeNames: list("AttributeName"),
      MessageSystemAttributeNames: list("MessageSystemAttributeName"),
      MessageAttributeNames: list("MessageAttributeName"),
      MaxNumberOfMessages: "integer",
      VisibilityTimeout: "integer",
      WaitTimeSeconds: "integer",
      ReceiveRequestAttemptId: "string",
    }),
    output: struct({
      Messages: list(
        "Message",
        struct({
          MessageId: "string",
          ReceiptHandle: "string",
          MD5OfBody: "string",
          Body: "string",
          Attributes: queueAttributes,
          MD5OfMessageAttributes: "string",
          MessageAttributes: messageAttributes,
        }),
      ),
    }),
  },
  DeleteMessage: { input: struct({ QueueUrl: "string", ReceiptHandle: "string" }) },
  DeleteMessageBatch: {
    input: struct({
      QueueUrl: "string",
      Entries: list(
        "DeleteMessageBatchRequestEntry",
        struct({ Id: "string", ReceiptHandle: "string" }),
      ),
    }),
    output: struct({ Successful: list("DeleteMessageBatchResultEntry", idOnly), Failed: failed }),
  },
  ChangeMessageVisibility: {
    input: struct({ QueueUrl: "string", ReceiptHandle: "string", VisibilityTimeout: "integer" }),
  },
  ChangeMessageVisibilityBatch: {
    input: struct({
      QueueUrl: "string",
      Entries: list(
        "ChangeMessageVisibilityBatchRequestEntry",
        struct({ Id: "string", ReceiptHandle: "string", VisibilityTimeout: "integer" }),
      ),
    }),
    output: struct({
      Successful: list("ChangeMessageVisibilityBatchResultEntry", idOnly),
      Failed: failed,
    }),
  },
  TagQueue: { input: struct({ QueueUrl: "string", Tags: tags }) },
  UntagQueue: { input: struct({ QueueUrl: "string", TagKeys: list("TagKey") }) },
  ListQueueTags: { input: queueUrlOnly, output: struct({ Tags: tags }) },
  ListDeadLetterSourceQueues: {
    input: struct({ QueueUrl: "string", NextToken: "string", MaxResults: "integer" }),
    output: struct({ queueUrls: list("QueueUrl"), NextToken: "string" }),
  },
  StartMessageMoveTask: {
    input: struct({
      SourceArn: "string",
      DestinationArn: "string",
      MaxNumberOfMessagesPerSecond: "integer",
    }),
    output: struct({ TaskHandle: "string" }),
  },
  ListMessageMoveTasks: {
    input: struct({ SourceArn: "string", MaxResults: "integer" }),
    output: struct({
      Results: list(
        "ListMessageMoveTasksResultEntry",
        struct({
          TaskHandle: "string",
          Status: "string",
          SourceArn: "string",
          DestinationArn: "string",
          MaxNumberOfMessagesPerSecond: "integer",
          ApproximateNumberOfMessagesMoved: "integer",
          ApproximateNumberOfMessagesToMove: "integer",
          FailureReason: "string",
          StartedTimestamp: "integer",
        }),
      ),
    }),
  },
  CancelMessageMoveTask: {
    input: struct({ TaskHandle: "string" }),
    output: struct({ ApproximateNumberOfMessagesMoved: "integer" }),
  },
};
