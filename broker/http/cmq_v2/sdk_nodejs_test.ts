/**
 * The Node.js SDK `cmq-nodejs-sdk` on npm (Tencent publishes none): like the Python SDK, it
 * leaves POST values starting with "@" out of the signature; it names itself
 * `RequestClient=CMQ_NODEJS_SDK_1.3`.
 */
import assert from "node:assert/strict";
import { cmqCode } from "./errors.ts";
import { answer, sdkRequest } from "./_sdk_request.ts";
import { adminKey, ok, setup } from "./_test_setup.ts";

Deno.test("the Node.js SDK's POST leaving a '@' value out of its signature verifies", async () => {
  const { door, clock, client } = setup({ keys: [adminKey] });
  ok(await client.call("CreateQueue", { queueName: "jobs" }));
  const nodeSend = (msgBody: string, key?: string) =>
    sdkRequest(clock.now(), {
      method: "POST",
      params: {
        Action: "SendMessage",
        queueName: "jobs",
        msgBody,
        RequestClient: "CMQ_NODEJS_SDK_1.3",
        SignatureMethod: "HmacSHA1",
      },
      unsigned: msgBody.startsWith("@") ? ["msgBody"] : [],
      hash: "sha1",
      key,
      encode: encodeURIComponent,
    });
  const sent = await answer(door, nodeSend("@ops deploy done"));
  assert.equal(sent.code, 0, sent.message);
  const received = ok(await client.call("ReceiveMessage", { queueName: "jobs" }));
  assert.equal(received.msgBody, "@ops deploy done");
  const forged = await answer(door, nodeSend("@ops", "not-the-key"));
  assert.equal(forged.code, cmqCode.authenticationFailed);
});
