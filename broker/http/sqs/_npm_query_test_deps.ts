/**
 * The query-protocol client the SQS door's query tests drive it with: `aws-sdk` v2 for
 * JavaScript at a release whose SQS model (`apis/sqs-2012-11-05.min.json`) still says
 * `"protocol": "query"` (later 2.x releases moved SQS to AWS JSON). Kept apart from
 * `_npm_test_deps.ts` so that only the tests using it load it.
 *
 * @module
 */
export { default as SQSv2 } from "npm:aws-sdk@2.1400.0/clients/sqs.js";
/** The XML reader `aws-sdk` v2 reads query answers with, for tests that parse them strictly. */
export { default as xml2js } from "npm:xml2js@0.5.0";
