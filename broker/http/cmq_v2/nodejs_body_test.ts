import assert from "node:assert/strict";
import { CmqError, moduleCode } from "./errors.ts";
import { isJsonBody, parseJsonBody, undefinedSignedNames } from "./nodejs_body.ts";

const client = `"RequestClient":"CMQ_NODEJS_SDK_1.3"`;

function refusedWith(module: number, query: string, text: string, mentions?: RegExp) {
  assert.throws(() => parseJsonBody(query, text), (error: unknown) => {
    assert.ok(error instanceof CmqError, String(error));
    assert.match(error.message, new RegExp(`^\\(${module}\\)`));
    if (mentions !== undefined) assert.match(error.message, mentions);
    return true;
  });
}

Deno.test("a JSON body's values read as the SDK signed them (`${value}`)", () => {
  assert.equal(isJsonBody(`{${client}}`), true);
  assert.equal(isJsonBody("Action=SendMessage"), false);
  const params = parseJsonBody(
    "",
    `{"msgBody":"多 \\"q\\" \\n","delaySeconds":0,"Nonce":5.3e-7,"Timestamp":1796557210123,` +
      `"flag":true,${client}}`,
  );
  assert.equal(params.get("msgBody"), '多 "q" \n');
  assert.equal(params.get("delaySeconds"), "0");
  assert.equal(params.get("Nonce"), `${5.3e-7}`);
  assert.equal(params.get("Timestamp"), "1796557210123");
  assert.equal(params.get("flag"), "true");
  assert.deepEqual([...params.names()].slice(0, 2), ["msgBody", "delaySeconds"]);
});

Deno.test("a JSON body that is not the SDK's is refused, naming what is wrong", () => {
  refusedWith(moduleCode.invalidRequest, "", "{not json");
  refusedWith(moduleCode.invalidRequest, "", `{"Action":"SendMessage"}`, /CMQ_NODEJS_SDK_/);
  refusedWith(
    moduleCode.invalidRequest,
    "",
    `{"RequestClient":"SDK_Python_1.3"}`,
    /CMQ_NODEJS_SDK_/,
  );
  refusedWith(moduleCode.parameterError, "", `{"msgBody":null,${client}}`, /msgBody/);
  refusedWith(moduleCode.parameterError, "", `{"msgBody":["a"],${client}}`, /msgBody/);
  refusedWith(moduleCode.parameterError, "", `{"msgBody":"\\ud800",${client}}`, /msgBody/);
  refusedWith(moduleCode.notRepeatable, "?msgBody=a", `{"msgBody":"b",${client}}`, /msgBody/);
  const many = Array.from({ length: 128 }, (_, i) => `"p${i}":"v"`).join(",");
  refusedWith(moduleCode.invalidRequest, "", `{${many},${client}}`, /128/);
});

Deno.test("=undefined names: Queue.create's absent attributes, on CreateQueue only", () => {
  const create = parseJsonBody(
    "",
    `{"queueName":"q","maxMsgSize":2048,"Action":"CreateQueue",${client}}`,
  );
  assert.deepEqual(undefinedSignedNames(create), [
    "pollingWaitSeconds",
    "visibilityTimeout",
    "msgRetentionSeconds",
    "rewindSeconds",
  ]);
  const send = parseJsonBody("", `{"queueName":"q","Action":"SendMessage",${client}}`);
  assert.deepEqual(undefinedSignedNames(send), []);
});
