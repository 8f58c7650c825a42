/**
 * The SQS door's one mapping table: every service error code has an SQS meaning, and the
 * ones a client acts on (limits, retries) carry the status SQS clients expect.
 */
import assert from "node:assert/strict";
import { BrokerError, type ErrorCode, errorCodes } from "../../service/mod.ts";
import { errorResponse, sqsCodeOf, sqsErrorKinds, toSqsError } from "./errors.ts";

Deno.test("every service error code maps to an SQS error; only InternalError is internal", () => {
  const serviceCodes: readonly ErrorCode[] = errorCodes;
  for (const code of serviceCodes) {
    const sqs = sqsCodeOf(code);
    assert.ok(sqs in sqsErrorKinds, code);
    if (code !== "InternalError") assert.notEqual(sqs, "InternalFailure", `${code} is unmapped`);
  }
});

Deno.test("too many queues is OverLimit (403, the caller's); the disk alarm is a retryable 503", () => {
  const limit = toSqsError(new BrokerError("QueueLimitExceeded", "10000 queues"), () => {});
  assert.equal(limit.code, "OverLimit");
  assert.equal(limit.status, 403);
  assert.equal(limit.senderFault, true);
  const disk = toSqsError(
    new BrokerError("InsufficientStorage", "disk alarm", { retryAfterSeconds: 1 }),
    () => {},
  );
  assert.equal(disk.code, "ServiceUnavailable");
  assert.equal(disk.status, 503);
  assert.equal(disk.senderFault, false);
  const response = errorResponse(disk, "r-1");
  assert.equal(response.headers.get("retry-after"), "1");
  assert.equal(response.headers.get("x-amzn-query-error"), "ServiceUnavailable;Receiver");
});
