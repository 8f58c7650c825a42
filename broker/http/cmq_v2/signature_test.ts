/**
 * Signatures and permissions of the CMQ door, driven by a client that signs as the official
 * SDKs do. Every refused request must leave the engine untouched.
 */
import assert from "node:assert/strict";
import { cmqCode, moduleCode } from "./errors.ts";
import { parseParams } from "./params.ts";
import { sign, stringToSign, timestampSkewSecondsMax } from "./signature.ts";
import { formEncode } from "./_cmq_test_client.ts";
import { adminKey, setup, workerKey } from "./_test_setup.ts";

Deno.test("the string to sign is METHOD, host, path, '?' and the sorted parameters, _ as .", () => {
  const params = parseParams(
    "",
    "Timestamp=1700000000&msgBody_1=a+b&Action=ListQueue&SignatureMethod=HmacSHA1" +
      "&Nonce=11886&SecretId=AKIDexample&limit=10&Signature=ignored",
  );
  const request = {
    method: "GET",
    host: "cmq-queue-gz.api.qcloud.com",
    path: "/v2/index.php",
    params,
  };
  const text = stringToSign(request, { skipFileValues: false });
  assert.equal(
    text,
    "GETcmq-queue-gz.api.qcloud.com/v2/index.php?Action=ListQueue&Nonce=11886" +
      "&SecretId=AKIDexample&SignatureMethod=HmacSHA1&Timestamp=1700000000&limit=10&msgBody.1=a b",
  );
  // Reference values computed with Python's hmac module, as the Python SDK does.
  assert.equal(sign(text, "example-secret", "HmacSHA1"), "Jj78lV6UJJntJchIAGSehFVMd4U=");
  assert.equal(
    sign(text.replace("HmacSHA1", "HmacSHA256"), "example-secret", "HmacSHA256"),
    "TLb+T7ysPOiaQzy7Om++Iv82Aik35qdOXElvgwdINLQ=",
  );
});

Deno.test("both signature methods are accepted over POST and GET, with the port in Host", async () => {
  for (const signatureMethod of ["HmacSHA1", "HmacSHA256"]) {
    for (const httpMethod of ["POST", "GET"] as const) {
      const { client } = setup({
        keys: [adminKey],
        client: { signatureMethod, httpMethod, host: "10.0.0.7:9876" },
      });
      const created = await client.call("CreateQueue", { queueName: "jobs" });
      assert.equal(
        created.body.code,
        0,
        `${signatureMethod} ${httpMethod}: ${created.body.message}`,
      );
      const sent = await client.call("SendMessage", { queueName: "jobs", msgBody: "hello world" });
      assert.equal(sent.body.code, 0, sent.body.message);
    }
  }
});

Deno.test("an endpoint written with its default port (:80, :443) verifies though Host leaves it out", async () => {
  // The SDKs sign the endpoint as written (`http://cmqd.internal:80` → `cmqd.internal:80`), and
  // their HTTP libraries (Python's httplib, Java's HttpURLConnection, curl) send a default port
  // in no Host header.
  for (const signedHost of ["cmqd.internal:80", "cmqd.internal:443"]) {
    const { client, broker } = setup({ keys: [adminKey], client: { host: signedHost } });
    const reply = await client.call("CreateQueue", { queueName: "jobs" }, {
      hostHeader: "cmqd.internal",
    });
    assert.equal(reply.body.code, 0, `${signedHost}: ${reply.body.message}`);
    assert.equal((await broker.getQueue("jobs")).name, "jobs");
  }
  // Only a default port: any other port, or another host, is still part of what is signed.
  const cases: [string, string][] = [
    ["cmqd.internal:9876", "cmqd.internal"],
    ["cmqd.internal:8080", "cmqd.internal"],
    ["other.internal:80", "cmqd.internal"],
    ["cmqd.internal", "cmqd.internal:80"],
  ];
  for (const [signedHost, hostHeader] of cases) {
    const { client, refused } = setup({ keys: [adminKey], client: { host: signedHost } });
    await refused(
      () => client.call("CreateQueue", { queueName: "jobs" }, { hostHeader }),
      cmqCode.authenticationFailed,
    );
  }
});

Deno.test("a missing SignatureMethod means HmacSHA1, as in CMQ", async () => {
  const { client } = setup({ keys: [adminKey] });
  const reply = await client.call("ListQueue", {}, {
    omit: ["SignatureMethod"],
  });
  assert.equal(reply.body.code, 0, reply.body.message);
});

Deno.test("bad signatures are 4100 and change nothing", async () => {
  const { client, refused, broker } = setup({ keys: [adminKey, workerKey] });
  await broker.createQueue("jobs", {});
  const send = { queueName: "jobs", msgBody: "x" };
  const cases: [string, () => ReturnType<typeof client.call>][] = [
    ["wrong secret", () => client.call("SendMessage", send, { signingKey: "not-the-key" })],
    [
      "another key's secret",
      () => client.call("SendMessage", send, { signingKey: workerKey.secretKey }),
    ],
    ["tampered parameter", () =>
      client.call("SendMessage", send, {
        afterSigning: (entries) =>
          entries.map(([name, value]) => [name, name === "msgBody" ? "y" : value]),
      })],
    ["added parameter", () =>
      client.call("SendMessage", send, {
        afterSigning: (entries) => [...entries, ["delaySeconds", "5"]],
      })],
    ["missing Signature", () => client.call("SendMessage", send, { omit: ["Signature"] })],
    ["missing SecretId", () => client.call("SendMessage", send, { omit: ["SecretId"] })],
    ["missing Nonce", () => client.call("SendMessage", send, { omit: ["Nonce"] })],
    ["missing Timestamp", () => client.call("SendMessage", send, { omit: ["Timestamp"] })],
    ["unknown SecretId", () =>
      client.call("SendMessage", send, {
        afterSigning: (entries) =>
          entries.map(([name, value]) => [name, name === "SecretId" ? "AKIDnobody" : value]),
      })],
    ["another Host", () => client.call("SendMessage", send, { hostHeader: "127.0.0.1:9877" })],
  ];
  for (const [label, call] of cases) {
    const reply = await refused(call, cmqCode.authenticationFailed);
    assert.match(reply.body.message, /^authentication failed: /, label);
  }
  assert.equal((await broker.getQueue("jobs")).activeMessages, 0);
});

Deno.test("a SignatureMethod other than HmacSHA1 or HmacSHA256 is 4100", async () => {
  const { client, refused } = setup({ keys: [adminKey], client: { signatureMethod: "HmacMD5" } });
  const reply = await refused(() => client.call("CreateQueue", { queueName: "jobs" }), 4100);
  assert.match(reply.body.message, /HmacMD5/);
});

Deno.test("a Timestamp more than 300 s from the server clock is 4100; 300 s is accepted", async () => {
  const { client, refused, clock } = setup({ keys: [adminKey] });
  const nowSeconds = Math.floor(clock.now() / 1000);
  for (const offset of [-timestampSkewSecondsMax - 1, timestampSkewSecondsMax + 1]) {
    const reply = await refused(
      () =>
        client.call("CreateQueue", { queueName: "jobs" }, {
          timestampSeconds: nowSeconds + offset,
        }),
      cmqCode.authenticationFailed,
    );
    assert.match(reply.body.message, /Timestamp is 301 s from the server clock/);
  }
  for (const offset of [-timestampSkewSecondsMax, timestampSkewSecondsMax]) {
    const reply = await client.call("ListQueue", {}, { timestampSeconds: nowSeconds + offset });
    assert.equal(reply.body.code, 0, reply.body.message);
  }
  await refused(
    () => client.call("ListQueue", {}, { timestampSeconds: -1 }),
    cmqCode.authenticationFailed,
  );
});

Deno.test("a POST value starting with @ verifies signed the Python/PHP way and the Java way", async () => {
  for (const style of ["python", "java"] as const) {
    const { client, broker } = setup({ keys: [adminKey], client: { style } });
    await broker.createQueue("jobs", {});
    const reply = await client.call("SendMessage", { queueName: "jobs", msgBody: "@mention" });
    assert.equal(reply.body.code, 0, `${style}: ${reply.body.message}`);
  }
  // Over GET every SDK signs every value, and so must the request.
  const { client, broker, refused } = setup({
    keys: [adminKey],
    client: { style: "python", httpMethod: "GET" },
  });
  await broker.createQueue("jobs", {});
  const reply = await client.call("SendMessage", { queueName: "jobs", msgBody: "@mention" });
  assert.equal(reply.body.code, 0, reply.body.message);
  await refused(
    () =>
      client.call("SendMessage", { queueName: "jobs", msgBody: "@one" }, {
        afterSigning: (entries) =>
          entries.map(([name, value]) => [name, name === "msgBody" ? "@two" : value]),
      }),
    cmqCode.authenticationFailed,
  );
});

Deno.test("an unsigned @ parameter added to a request that signs everything is 4100", async () => {
  // The Java SDK (RequestClient SDK_JAVA_1.3) signs every parameter: a "@" parameter someone
  // adds to its captured request must not pass as one the Python/PHP way left unsigned.
  const { client, broker, refused } = setup({ keys: [adminKey], client: { style: "java" } });
  await broker.createQueue("jobs", {});
  await refused(
    () =>
      client.call("BatchSendMessage", { queueName: "jobs", "msgBody.1": "hello" }, {
        afterSigning: (entries) => [...entries, ["msgBody.2", "@injected"]],
      }),
    cmqCode.authenticationFailed,
  );
  assert.equal((await broker.getQueue("jobs")).activeMessages, 0);
});

Deno.test("a Signature whose '+' arrived unencoded (decoded as a space) still verifies", async () => {
  const { client } = setup({ keys: [adminKey] });
  for (let attempt = 0; attempt < 200; attempt++) {
    const entries = client.signedParams("ListQueue", { limit: attempt + 1 });
    const signature = entries.find(([name]) => name === "Signature")![1];
    if (!signature.includes("+")) continue;
    const encoded = formEncode(entries.filter(([name]) => name !== "Signature")) +
      `&Signature=${signature}`;
    const reply = await client.sendRaw(encoded);
    assert.equal(reply.body.code, 0, reply.body.message);
    return;
  }
  assert.fail("no signature with a '+' in 200 attempts");
});

Deno.test("a key without the permission is 4103; with it the action runs", async () => {
  const { client, refused, broker } = setup({ keys: [adminKey, workerKey], clientKey: workerKey });
  await broker.createQueue("images", {});
  await broker.createQueue("results", {});
  assert.equal(
    (await client.call("SendMessage", { queueName: "results", msgBody: "r" })).body.code,
    0,
  );
  const receive = await client.call("ReceiveMessage", { queueName: "images" });
  assert.equal(
    receive.body.code,
    cmqCode.noMessage,
    "past the permission check: the queue is empty",
  );
  const denied = [
    () => client.call("SendMessage", { queueName: "images", msgBody: "x" }),
    () => client.call("ReceiveMessage", { queueName: "results" }),
    () => client.call("CreateQueue", { queueName: "images2" }),
    () => client.call("DeleteQueue", { queueName: "images" }),
    () => client.call("GetQueueAttributes", { queueName: "images" }),
    () => client.call("ListQueue", {}),
  ];
  for (const call of denied) {
    const reply = await refused(call, cmqCode.accessDenied);
    assert.match(reply.body.message, /^access denied: key 'AKIDworker' lacks queue:/);
  }
  assert.equal((await broker.getQueue("images")).activeMessages, 0);
});

Deno.test("ListQueue needs read on every queue (queue:*:read)", async () => {
  const reader = { secretId: "AKIDreader", secretKey: "reader-key", allow: ["queue:*:read"] };
  const { client } = setup({ keys: [reader] });
  const reply = await client.call("ListQueue", {});
  assert.equal(reply.body.code, 0, reply.body.message);
  assert.equal(reply.body.totalCount, 0);
});

Deno.test("with no credentials configured, no signature is asked for", async () => {
  const { client } = setup();
  const reply = await client.call("CreateQueue", { queueName: "jobs" });
  assert.equal(reply.body.code, 0, reply.body.message);
  // Signing parameters that happen to be sent are ignored, even wrong ones.
  const signed = setup({ client: { credentials: adminKey } });
  const ignored = await signed.client.call("CreateQueue", { queueName: "jobs" }, {
    signingKey: "whatever",
  });
  assert.equal(ignored.body.code, 0, ignored.body.message);
});

Deno.test("the signature is checked before the action: an unsigned unknown action is 4100", async () => {
  const { client, refused } = setup({ keys: [adminKey] });
  await refused(() => client.call("NoSuchAction", {}, { signingKey: "wrong" }), 4100);
  await refused(() => client.call("NoSuchAction", {}), 4000, moduleCode.actionNotExisting);
});
