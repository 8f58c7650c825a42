/**
 * The query-protocol client the SQS door's query tests sign with (`aws-sdk` v2).
 *
 * @module
 */
import { SQSv2 } from "./_npm_query_test_deps.ts";

/** An `aws-sdk` v2 SQS client of `endpoint` signing with `key`, retrying nothing. */
export function queryClientOf(
  endpoint: string,
  key: { secretId: string; secretKey: string },
): InstanceType<typeof SQSv2> {
  return new SQSv2({
    endpoint,
    region: "eu-west-1",
    credentials: { accessKeyId: key.secretId, secretAccessKey: key.secretKey },
    maxRetries: 0,
  });
}
