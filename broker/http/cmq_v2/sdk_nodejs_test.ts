/**
 * The Node.js SDK `cmq-nodejs-sdk` on npm (Tencent publishes none): like the Python SDK, it
 * leaves POST values starting with "@" out of the signature; it names itself
 * `RequestClient=CMQ_NODEJS_SDK_1.3`. It signs its endpoint as written with only `https://` taken
 * off: an `http://` endpoint is signed with its scheme (`POSThttp://cmqd.internal:9876/v2/…`),
 * while its HTTP library sends the bare host in the Host header.
 *
 * These build form bodies to hold the signature rules alone; the SDK's real wire form (a JSON
 * body, `Timestamp` in milliseconds) is replayed byte for byte in `sdk_nodejs_wire_test.ts`.
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

/** A SendMessage as `cmq-nodejs-sdk` builds it (its `Region` included), signed over `signedHost`. */
function nodeSdkSend(nowMs: number, options: {
  signedHost: string;
  hostHeader: string;
  msgBody?: string;
  key?: string;
  /** Null: no `RequestClient` at all. */
  requestClient?: string | null;
}) {
  const client = options.requestClient === undefined ? "CMQ_NODEJS_SDK_1.3" : options.requestClient;
  const requestClient: Record<string, string> = client === null ? {} : { RequestClient: client };
  const msgBody = options.msgBody ?? "built";
  return sdkRequest(nowMs, {
    method: "POST",
    params: {
      Action: "SendMessage",
      queueName: "jobs",
      msgBody,
      Region: "gz",
      ...requestClient,
      SignatureMethod: "HmacSHA1",
    },
    unsigned: msgBody.startsWith("@") ? ["msgBody"] : [],
    hash: "sha1",
    key: options.key,
    encode: encodeURIComponent,
    signedHost: options.signedHost,
    hostHeader: options.hostHeader,
  });
}

Deno.test("the Node.js SDK's request to an http:// endpoint, signed with the scheme, verifies", async () => {
  const { door, clock, client } = setup({ keys: [adminKey] });
  ok(await client.call("CreateQueue", { queueName: "jobs" }));
  // The endpoint as the application writes it, and the Host header Node's HTTP client sends.
  const cases: [string, string][] = [
    ["http://127.0.0.1:9876", "127.0.0.1:9876"],
    ["http://cmqd.internal", "cmqd.internal"],
    ["http://cmqd.internal:80", "cmqd.internal"],
  ];
  for (const [signedHost, hostHeader] of cases) {
    for (const msgBody of ["built", "@ops deploy done"]) {
      const sent = await answer(
        door,
        nodeSdkSend(clock.now(), { signedHost, hostHeader, msgBody }),
      );
      assert.equal(sent.code, 0, `${signedHost} ${msgBody}: ${sent.message}`);
      const received = ok(await client.call("ReceiveMessage", { queueName: "jobs" }));
      assert.equal(received.msgBody, msgBody);
    }
  }
});

Deno.test("the http:// signed form is taken only from cmq-nodejs-sdk, with the key, for that host", async () => {
  const { door, clock, client } = setup({ keys: [adminKey] });
  ok(await client.call("CreateQueue", { queueName: "jobs" }));
  const refusedCases: [string, Parameters<typeof nodeSdkSend>[1]][] = [
    ["another key", {
      signedHost: "http://127.0.0.1:9876",
      hostHeader: "127.0.0.1:9876",
      key: "not-the-key",
    }],
    ["another client", {
      signedHost: "http://127.0.0.1:9876",
      hostHeader: "127.0.0.1:9876",
      requestClient: "SDK_Python_1.3",
    }],
    ["no client", {
      signedHost: "http://127.0.0.1:9876",
      hostHeader: "127.0.0.1:9876",
      requestClient: null,
    }],
    ["another port", { signedHost: "http://127.0.0.1:9877", hostHeader: "127.0.0.1:9876" }],
    ["another host", { signedHost: "http://10.0.0.7:9876", hostHeader: "127.0.0.1:9876" }],
    ["https:// kept", { signedHost: "https://127.0.0.1:9876", hostHeader: "127.0.0.1:9876" }],
    ["http:// and :443", { signedHost: "http://cmqd.internal:443", hostHeader: "cmqd.internal" }],
    ["HTTP:// upper case", { signedHost: "HTTP://127.0.0.1:9876", hostHeader: "127.0.0.1:9876" }],
  ];
  for (const [name, options] of refusedCases) {
    const refused = await answer(door, nodeSdkSend(clock.now(), options));
    assert.equal(refused.code, cmqCode.authenticationFailed, `${name}: ${refused.message}`);
  }
  // The SDK only POSTs: a GET signed that way is not its request.
  const get = await answer(
    door,
    sdkRequest(clock.now(), {
      method: "GET",
      params: {
        Action: "SendMessage",
        queueName: "jobs",
        msgBody: "built",
        RequestClient: "CMQ_NODEJS_SDK_1.3",
      },
      hash: "sha1",
      encode: encodeURIComponent,
      signedHost: "http://127.0.0.1:9876",
    }),
  );
  assert.equal(get.code, cmqCode.authenticationFailed, get.message);
  const after = await client.call("ReceiveMessage", { queueName: "jobs" });
  assert.equal(after.body.code, cmqCode.noMessage, "none of them was stored");
});
