/**
 * The XML answers of SQS's query protocol. An operation's JSON output (the JSON door's) is
 * written by the operation's output shape (`query_shapes.ts`):
 *
 * ```xml
 * <?xml version="1.0" encoding="UTF-8"?>
 * <SendMessageResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/">
 *   <SendMessageResult><MessageId>…</MessageId><MD5OfMessageBody>…</MD5OfMessageBody></SendMessageResult>
 *   <ResponseMetadata><RequestId>…</RequestId></ResponseMetadata>
 * </SendMessageResponse>
 * ```
 *
 * and an error as SQS's query `ErrorResponse`, its `Code` the query protocol's code
 * (`AWS.SimpleQueueService.NonExistentQueue`, `QueueAlreadyExists`…, as in `x-amzn-query-error`
 * of the JSON door), with the JSON door's HTTP status.
 *
 * Text is escaped for XML 1.0: `&`, `<`, `>`, and CR (`&#13;`, which an XML parser would
 * otherwise read as a line feed). A character XML 1.0 cannot carry at all (C0 controls other
 * than tab, LF and CR; U+FFFE, U+FFFF; a lone surrogate) is written as U+FFFD. The SQS door
 * refuses such characters in what it stores, but another door may have stored them (a native
 * client may send `\u0001` in a body): a received message whose body or String attribute holds
 * one reaches a query client with U+FFFD in its place and the MD5s of the text as delivered, so
 * the SDK's digest check passes and the message is not lost to a receive that can never succeed.
 *
 * @module
 */
import { type SqsError, sqsErrorKinds } from "./errors.ts";
import type { JsonObject } from "./input.ts";
import { md5OfBody, md5OfMessageAttributes, type SqsAttributeValue } from "./md5.ts";
import type { Shape, StructShape } from "./query_shapes.ts";
import { wireName } from "./query_shapes.ts";

/** The XML namespace of SQS's API version 2012-11-05. */
export const queryNamespace = "http://queue.amazonaws.com/doc/2012-11-05/";

/** The media type of every query answer. */
export const queryContentType = "text/xml";

const xmlHead = '<?xml version="1.0" encoding="UTF-8"?>';

// deno-lint-ignore no-control-regex -- the control characters are what it looks for
const notXmlText = /[\0-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/g;
// deno-lint-ignore no-control-regex -- the control characters are what it looks for
const hasNotXmlText = /[\0-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/;
// deno-lint-ignore no-control-regex -- the control characters are what it looks for
const needsEscape = /[&<>\r\0-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/;

/** `text` with the characters XML 1.0 cannot carry replaced by U+FFFD. */
export function xmlCarriable(text: string): string {
  return text.toWellFormed().replace(notXmlText, "\uFFFD");
}

/** True when `text` holds a character XML 1.0 cannot carry. */
function hasNonXmlCharacter(text: string): boolean {
  return !text.isWellFormed() || hasNotXmlText.test(text);
}

const escapes: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;" };

/** `text` as XML character data (see the module's note on characters XML cannot carry). */
export function escapeXml(text: string): string {
  if (text.isWellFormed() && !needsEscape.test(text)) return text;
  return xmlCarriable(text).replace(/[&<>\r]/g, (character) => escapes[character]);
}

/**
 * `text` as an element's content. Text of white space only (as JavaScript's `\s` counts it:
 * space, tab, LF, CR, U+00A0, U+3000…) is written in CDATA sections, its CRs as `&#13;` between
 * them (a CR inside CDATA would be read as LF): the XML reader of `aws-sdk` v2 (xml2js) drops an
 * element's white space unless a CDATA section is in it, so a body of one space would arrive
 * empty and fail the SDK's MD5 check on every receive. A text of CRs alone can't be helped that
 * way (an empty CDATA section leaves no trace in that reader): it is written as references.
 */
export function elementText(text: string): string {
  if (!whiteSpaceOnly.test(text) || /[\v\f]/.test(text)) return escapeXml(text);
  return text.replace(/[^\r]+/g, (run) => `<![CDATA[${run}]]>`).replaceAll("\r", "&#13;");
}

const whiteSpaceOnly = /^\s+$/;

function writeValue(parts: string[], name: string, value: unknown, shape: Shape): void {
  if (value === undefined || value === null) return;
  if (typeof shape === "string") {
    parts.push(`<${name}>${elementText(String(value))}</${name}>`);
  } else if (shape.kind === "list") {
    for (const item of value as unknown[]) writeValue(parts, shape.item, item, shape.of);
  } else if (shape.kind === "map") {
    for (const [key, entry] of Object.entries(value as JsonObject)) {
      parts.push(`<${shape.entry}>`);
      writeValue(parts, shape.key, key, "string");
      writeValue(parts, shape.value, entry, shape.of);
      parts.push(`</${shape.entry}>`);
    }
  } else {
    parts.push(`<${name}>`);
    writeMembers(parts, value as JsonObject, shape);
    parts.push(`</${name}>`);
  }
}

function writeMembers(parts: string[], value: JsonObject, shape: StructShape): void {
  for (const [member, memberShape] of Object.entries(shape.members)) {
    writeValue(parts, wireName(member, memberShape), value[member], memberShape);
  }
}

/**
 * A received message whose body or String attribute values hold characters XML cannot carry,
 * as the query answer delivers it: those characters as U+FFFD, the MD5s over what is delivered.
 */
function deliverableMessage(message: JsonObject): JsonObject {
  const body = message.Body as string;
  const attributes = message.MessageAttributes as Record<string, SqsAttributeValue> | undefined;
  const attributesChange = attributes !== undefined &&
    Object.values(attributes).some((attribute) =>
      attribute.StringValue !== undefined && hasNonXmlCharacter(attribute.StringValue)
    );
  if (!hasNonXmlCharacter(body) && !attributesChange) return message;
  const delivered: JsonObject = { ...message };
  if (hasNonXmlCharacter(body)) {
    delivered.Body = xmlCarriable(body);
    delivered.MD5OfBody = md5OfBody(delivered.Body as string);
  }
  if (attributesChange) {
    const carried: Record<string, SqsAttributeValue> = {};
    for (const [name, attribute] of Object.entries(attributes)) {
      carried[name] = attribute.StringValue === undefined
        ? attribute
        : { ...attribute, StringValue: xmlCarriable(attribute.StringValue) };
    }
    delivered.MessageAttributes = carried;
    delivered.MD5OfMessageAttributes = md5OfMessageAttributes(carried);
  }
  return delivered;
}

/** The answer document of `action` with its JSON `output`. */
export function queryAnswerXml(
  action: string,
  output: JsonObject,
  shape: StructShape | undefined,
  requestId: string,
): string {
  const parts = [xmlHead, `<${action}Response xmlns="${queryNamespace}">`];
  if (shape !== undefined) {
    let result = output;
    if (action === "ReceiveMessage" && Array.isArray(output.Messages)) {
      result = { ...output, Messages: output.Messages.map(deliverableMessage) };
    }
    parts.push(`<${action}Result>`);
    writeMembers(parts, result, shape);
    parts.push(`</${action}Result>`);
  }
  parts.push(
    `<ResponseMetadata><RequestId>${escapeXml(requestId)}</RequestId></ResponseMetadata>`,
    `</${action}Response>`,
  );
  return parts.join("");
}

/**
 * The query protocol's code of `error`. Two codes exist only in the JSON protocol: an operation
 * it does not know (`UnknownOperationException`) is `InvalidAction` here, and input the
 * protocol layer could not read (`SerializationException`) is `MalformedQueryString`.
 */
export function queryErrorCode(error: SqsError): string {
  if (error.code === "UnknownOperationException") return "InvalidAction";
  if (error.code === "SerializationException") return "MalformedQueryString";
  return error.queryCode;
}

/** SQS's query `ErrorResponse` document of `error`. */
export function queryErrorXml(error: SqsError, requestId: string): string {
  const fault = sqsErrorKinds[error.code].fault;
  return [
    xmlHead,
    `<ErrorResponse xmlns="${queryNamespace}"><Error>`,
    `<Type>${fault}</Type>`,
    `<Code>${escapeXml(queryErrorCode(error))}</Code>`,
    `<Message>${escapeXml(error.message)}</Message>`,
    `<Detail/></Error>`,
    `<RequestId>${escapeXml(requestId)}</RequestId>`,
    `</ErrorResponse>`,
  ].join("");
}

/** The query protocol's answer to `error`, with `extraHeaders` beside SQS's. */
export function queryErrorResponse(
  error: SqsError,
  requestId: string,
  extraHeaders: Record<string, string> = {},
): Response {
  const headers = new Headers({
    ...extraHeaders,
    "content-type": queryContentType,
    "x-amzn-requestid": requestId,
  });
  if (error.retryAfterSeconds !== undefined) {
    headers.set("retry-after", String(error.retryAfterSeconds));
  }
  return new Response(queryErrorXml(error, requestId), { status: error.status, headers });
}
