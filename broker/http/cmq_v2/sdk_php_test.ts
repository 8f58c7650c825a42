/**
 * The PHP SDK (`tencentyun/cmq-php-sdk`): a GET goes to `/v2/index.php/v2/index.php?` +
 * `http_build_query` (its HTTP class appends the path to a base that already ends in it), signed
 * over `GET` + host + `/v2/index.php`.
 */
import assert from "node:assert/strict";
import { cmqCode } from "./errors.ts";
import { answer, phpUrlencode, sdkRequest } from "./_sdk_request.ts";
import { adminKey, setup } from "./_test_setup.ts";

Deno.test("the PHP SDK's GET at /v2/index.php/v2/index.php, signed over /v2/index.php, is served", async () => {
  const { door, clock } = setup({ keys: [adminKey] });
  const phpGet = (params: Record<string, string>, key?: string) =>
    sdkRequest(clock.now(), {
      method: "GET",
      path: "/v2/index.php/v2/index.php",
      params: { RequestClient: "SDK_PHP_1.3", SignatureMethod: "HmacSHA1", ...params },
      hash: "sha1",
      key,
      encode: phpUrlencode,
    });
  const created = await answer(door, phpGet({ Action: "CreateQueue", queueName: "jobs" }));
  assert.equal(created.code, 0, created.message);
  const sent = await answer(
    door,
    phpGet({ Action: "SendMessage", queueName: "jobs", msgBody: "a b~c&d=é" }),
  );
  assert.equal(sent.code, 0, sent.message);
  const received = await answer(door, phpGet({ Action: "ReceiveMessage", queueName: "jobs" }));
  assert.equal(received.msgBody, "a b~c&d=é");
  const forged = await answer(
    door,
    phpGet({ Action: "DeleteQueue", queueName: "jobs" }, "not-the-key"),
  );
  assert.equal(forged.code, cmqCode.authenticationFailed);
});
