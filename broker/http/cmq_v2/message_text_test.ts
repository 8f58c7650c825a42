/**
 * Message text through the door as the SDKs encode it: every value is percent-encoded bytes,
 * which the door reads as UTF-8. Bytes that are not UTF-8 (a GBK `str` from a Python 2
 * application, a PHP string in GBK through `http_build_query`) are refused, naming the
 * parameter, rather than stored as U+FFFD — another text than was sent.
 */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { cmqCode, moduleCode } from "./errors.ts";
import { adminKey, ok, setup } from "./_test_setup.ts";

const host = "127.0.0.1:9876";

/** "你好" in GBK, as Python 2's `urllib.urlencode` writes a GBK `str`. */
const gbkEscaped = "%C4%E3%BA%C3";
const gbkBytes = [0xc4, 0xe3, 0xba, 0xc3];

/**
 * A SendMessage as the Python SDK puts it on the wire with a `str` body of raw bytes: the
 * signature is over the bytes (Python 2 strings are bytes), the body their escapes.
 */
function pythonSendWithBytes(nowMs: number, body: number[], escaped: string): Request {
  const params: [string, string][] = [
    ["Action", "SendMessage"],
    ["Nonce", "77"],
    ["RequestClient", "SDK_Python_1.3"],
    ["SecretId", adminKey.secretId],
    ["SignatureMethod", "HmacSHA1"],
    ["Timestamp", String(Math.floor(nowMs / 1000))],
    ["delaySeconds", "0"],
    ["queueName", "jobs"],
  ];
  const encoder = new TextEncoder();
  const signed = [...params, ["msgBody", ""]].sort(([a], [b]) => a < b ? -1 : 1);
  const parts: Uint8Array[] = [encoder.encode(`POST${host}/v2/index.php?`)];
  signed.forEach(([name, value], index) => {
    parts.push(encoder.encode(`${index === 0 ? "" : "&"}${name}=`));
    parts.push(name === "msgBody" ? new Uint8Array(body) : encoder.encode(value));
  });
  const mac = createHmac("sha1", adminKey.secretKey);
  for (const part of parts) mac.update(part);
  const signature = mac.digest("base64");
  const form = new URLSearchParams([...params, ["Signature", signature]]).toString() +
    `&msgBody=${escaped}`;
  return new Request(`http://${host}/v2/index.php`, {
    method: "POST",
    headers: { host },
    body: encoder.encode(form),
  });
}

async function answer(door: { request: (r: Request) => Response | Promise<Response> }, r: Request) {
  // deno-lint-ignore no-explicit-any
  return (await (await door.request(r)).json()) as Record<string, any>;
}

Deno.test("a msgBody whose escapes are not UTF-8 is 4000 naming msgBody, not a message of U+FFFD", async () => {
  const { client, refused } = setup();
  ok(await client.call("CreateQueue", { queueName: "jobs" }));
  const sends: [string, string][] = [
    ["SendMessage", `queueName=jobs&msgBody=${gbkEscaped}`],
    ["BatchSendMessage", `queueName=jobs&msgBody.1=ok&msgBody.2=a${gbkEscaped}`],
    ["SendMessage", `queueName=jobs&msgBody=%E9t%E9`], // Latin-1 "été"
    ["SendMessage", `queueName=jobs&msgBody=%F0%9F%98`], // a cut 4-byte sequence
  ];
  for (const [action, form] of sends) {
    const reply = await refused(
      () => client.sendRaw(`Action=${action}&${form}`),
      cmqCode.invalidParameter,
      moduleCode.parameterError,
    );
    const name = action === "SendMessage" ? "msgBody" : "msgBody.2";
    assert.match(reply.body.message, new RegExp(`parameter ${name} .*not UTF-8`));
  }
  // A GET (the PHP SDK's, or any SDK's set to GET) carries them in its query string.
  const get = await refused(
    () =>
      client.sendRaw(`Action=SendMessage&queueName=jobs&msgBody=${gbkEscaped}`, {
        httpMethod: "GET",
      }),
    cmqCode.invalidParameter,
    moduleCode.parameterError,
  );
  assert.match(get.body.message, /parameter msgBody .*not UTF-8/);
  const received = await client.call("ReceiveMessage", {
    queueName: "jobs",
    pollingWaitSeconds: 0,
  });
  assert.equal(received.body.code, cmqCode.noMessage, JSON.stringify(received.body));
});

Deno.test("a body whose raw bytes are not UTF-8 is refused, and changes nothing", async () => {
  const { client, refused, door } = setup();
  ok(await client.call("CreateQueue", { queueName: "jobs" }));
  const form = new TextEncoder().encode("Action=SendMessage&queueName=jobs&msgBody=");
  const body = new Uint8Array([...form, ...gbkBytes]);
  const reply = await refused(
    async () => {
      const response = await door.request(
        new Request(`http://${host}/v2/index.php`, { method: "POST", headers: { host }, body }),
      );
      return { status: response.status, contentType: null, body: await response.json() };
    },
    cmqCode.invalidParameter,
    moduleCode.invalidRequest,
  );
  assert.match(reply.body.message, /not UTF-8/);
});

Deno.test("with credentials, the Python SDK's GBK body is that 4000, not a signature failure", async () => {
  const { clock, door, replica, client } = setup({ keys: [adminKey] });
  ok(await client.call("CreateQueue", { queueName: "jobs" }));
  const before = replica.lastIndex;
  const reply = await answer(door, pythonSendWithBytes(clock.now(), gbkBytes, gbkEscaped));
  assert.equal(reply.code, cmqCode.invalidParameter, JSON.stringify(reply));
  assert.match(reply.message, /^\(10110\)parameter msgBody .*not UTF-8/);
  assert.equal(replica.lastIndex, before);
});

Deno.test("U+FFFD and other text sent as UTF-8 come back as sent", async () => {
  const { client } = setup();
  ok(await client.call("CreateQueue", { queueName: "jobs" }));
  const texts = ["\uFFFD", "a\uFFFDb 你好", "\uFEFFbom first", "😀 é"];
  for (const text of texts) {
    ok(await client.call("SendMessage", { queueName: "jobs", msgBody: text }));
    const received = ok(await client.call("ReceiveMessage", { queueName: "jobs" }));
    assert.equal(received.msgBody, text);
    ok(
      await client.call("DeleteMessage", {
        queueName: "jobs",
        receiptHandle: received.receiptHandle as string,
      }),
    );
  }
});
