/**
 * The MessageId the SQS door shows for a cmqd message id: SQS's MessageIds are UUIDs, and code
 * around the AWS SDKs parses them as such (Spring Cloud AWS's SQS listener maps each received
 * MessageId with `UUID.fromString` and fails the message otherwise), while cmqd's ids are 24
 * lowercase hex digits (12 of the queue's incarnation, 12 of the message's sequence).
 *
 * The door writes them as an RFC 9562 version 8 UUID holding the same digits:
 * `iiiiiiii-iiii-8000-8000-ssssssssssss` (the incarnation's digits, the version and variant
 * groups, the sequence's digits), so `000000000003000000000001` is
 * `00000000-0003-8000-8000-000000000001`. Distinct ids stay distinct, the same message has the
 * same MessageId in every answer (sends, receives, FIFO deduplication), and the native id is the
 * UUID without its dashes and the `80008000` in the middle. An id of another shape (an
 * incarnation or sequence past 2^48) is shown as it is.
 *
 * @module
 */

const idCodes = new Array<number>(36).fill(0);
const dash = 0x2d;
const eight = 0x38;
const zero = 0x30;
idCodes[8] =
  idCodes[13] =
  idCodes[18] =
  idCodes[23] =
    dash;
idCodes[14] = idCodes[19] = eight;
idCodes[15] =
  idCodes[16] =
  idCodes[17] =
  idCodes[20] =
  idCodes[21] =
  idCodes[22] =
    zero;

/** Where each of a native id's 24 digits goes in the UUID form. */
const digitAt = [
  ...[0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12],
  ...[24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35],
];

function isHexCode(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x61 && code <= 0x66);
}

/**
 * The SQS MessageId of the cmqd message id `id` (made as one flat string: every send and
 * receive answer carries one per message).
 *
 * @example
 * ```ts
 * sqsMessageId("000000000003000000000001"); // "00000000-0003-8000-8000-000000000001"
 * ```
 */
export function sqsMessageId(id: string): string {
  if (id.length !== digitAt.length) return id;
  for (let index = 0; index < digitAt.length; index++) {
    const code = id.charCodeAt(index);
    if (!isHexCode(code)) return id;
    idCodes[digitAt[index]] = code;
  }
  return String.fromCharCode.apply(null, idCodes);
}
