/**
 * The npm packages the SQS door's tests drive it with, pinned here and nowhere else: the door's
 * promise is that these run unmodified against cmqd. (Inline specifiers, not deno.json's import
 * map, so the tests add no dependency to the product; move them there if the map takes
 * test-only packages.)
 *
 * @module
 */
export * from "npm:@aws-sdk/client-sqs@3.1175.0";
export { Consumer } from "npm:sqs-consumer@15.0.3";
