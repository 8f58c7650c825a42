/**
 * Malformed signatures on every door, with credentials configured: a request each door's client
 * signs correctly (a send to `jobs`, which would write), then its proof garbled by generated
 * edits: characters inserted, deleted, doubled; fields' values replaced by odd ones; the proof
 * sent twice. Each answer is below 500 with nothing logged, in the door's shape, and a refusal
 * writes nothing (`_door_fuzz.ts`); the unedited request is served.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import type { AccessKey } from "../auth/mod.ts";
import { signRequest } from "../../sdk/signing.ts";
import {
  contentTypes,
  fuzzNode,
  jsonTexts,
  requestOf,
  type RequestParts,
  runs,
  showParts,
  withInvalidUtf8,
} from "./_door_fuzz.ts";
import { CmqTestClient, formEncode } from "./cmq_v2/_cmq_test_client.ts";
import { signedForm } from "./sqs/_signed_form.ts";

const admin: AccessKey = { secretId: "AKIDadmin", secretKey: "admin-secret-key", allow: ["*"] };
const reader: AccessKey = {
  secretId: "AKIDreader",
  secretKey: "reader-secret-key",
  allow: ["queue:*:read"],
};

const origin = "http://127.0.0.1:8080";

/** Odd values of a signature's fields. */
const oddValues = [
  "",
  "0",
  "-1",
  "-0",
  "1e400",
  "NaN",
  "99999999999999999999",
  "AKIDreader",
  "AKIDnobody",
  "AKIDadmin,AKIDadmin",
  "=",
  ",",
  "/",
  "é",
  "\u{1F600}",
  "%zz",
  "a".repeat(5000),
  "HmacSHA512",
  "hmacsha1",
  "__proto__",
  "AAAA",
  "////",
  "20991231T000000Z",
  "19700101T000000Z",
  "2024-01-01",
];

/** One edit of a text: insert, delete, double a piece, or replace a field's value. */
type Edit =
  | { kind: "insert"; at: number; text: string }
  | { kind: "delete"; at: number; length: number }
  | { kind: "double"; at: number; length: number }
  | { kind: "value"; which: number; value: string };

const edits: fc.Arbitrary<Edit[]> = fc.array(
  fc.oneof(
    fc.record({
      kind: fc.constant("insert" as const),
      at: fc.nat(),
      text: fc.constantFrom(",", " ", "=", "/", ", ", "\t", "é", "%", "\u{1F600}", "&", "+"),
    }),
    fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), length: fc.nat(40) }),
    fc.record({ kind: fc.constant("double" as const), at: fc.nat(), length: fc.nat(40) }),
    fc.record({
      kind: fc.constant("value" as const),
      which: fc.nat(),
      value: fc.constantFrom(...oddValues),
    }),
  ),
  { minLength: 1, maxLength: 3 },
);

/** How a proof's fields (`name=value` pieces) are split and joined. */
interface Fields {
  split: RegExp;
  join: string;
}

const headerFields: Fields = { split: /,\s*/, join: ", " };
const formFields: Fields = { split: /&/, join: "&" };

/** `text` with `edit` made. */
function applyEdit(text: string, edit: Edit, fields: Fields): string {
  const at = text.length === 0 ? 0 : ("at" in edit ? edit.at % (text.length + 1) : 0);
  switch (edit.kind) {
    case "insert":
      return text.slice(0, at) + edit.text + text.slice(at);
    case "delete":
      return text.slice(0, at) + text.slice(at + edit.length);
    case "double":
      return text.slice(0, at + edit.length) + text.slice(at, at + edit.length) +
        text.slice(at + edit.length);
    case "value": {
      const pieces = text.split(fields.split);
      const index = edit.which % pieces.length;
      const equals = pieces[index].indexOf("=");
      pieces[index] = equals < 0 ? edit.value : pieces[index].slice(0, equals + 1) + edit.value;
      return pieces.join(fields.join);
    }
  }
}

function applyEdits(text: string, list: Edit[], fields: Fields): string {
  return list.reduce((edited, edit) => applyEdit(edited, edit, fields), text);
}

/** What the generated test does to the signed request's proof. */
interface Garbling {
  edits: Edit[];
  /** Send the proof twice (as two headers, or the parameters twice). */
  twice: boolean;
  /** Sign with this key instead of the admin's. */
  signer: "admin" | "reader" | "wrong-secret";
}

const garblings: fc.Arbitrary<Garbling> = fc.record({
  edits,
  twice: fc.boolean(),
  signer: fc.constantFrom("admin", "admin", "admin", "reader", "wrong-secret"),
});

function keyOf(signer: Garbling["signer"]) {
  if (signer === "reader") return reader;
  if (signer === "wrong-secret") return { ...admin, secretKey: "not-the-secret" };
  return admin;
}

/** A v1 send, signed (CMQD1-HMAC-SHA256) or with a bearer token. */
async function v1Request(garbling: Garbling, bearer: boolean): Promise<RequestParts> {
  const key = keyOf(garbling.signer);
  const path = "/v1/queues/jobs/messages";
  const body = JSON.stringify({ messages: [{ body: "x" }] });
  const authorization = bearer
    ? `Bearer ${key.secretId}:${key.secretKey}`
    : await signRequest({ method: "POST", path, body, ...key });
  const garbled = applyEdits(authorization, garbling.edits, headerFields);
  const headers: [string, string][] = [["content-type", "application/json"]];
  headers.push(["authorization", garbled]);
  if (garbling.twice) headers.push(["authorization", authorization]);
  return { method: "POST", path, headers, body };
}

/** An SQS send (JSON protocol), signed with SigV4. */
async function sqsRequest(garbling: Garbling): Promise<RequestParts> {
  const key = keyOf(garbling.signer);
  const body = JSON.stringify({ QueueUrl: `${origin}/000000000000/jobs`, MessageBody: "x" });
  let captured: RequestParts | undefined;
  await signedForm(origin, key, {
    body,
    headers: {
      "content-type": "application/x-amz-json-1.0",
      "x-amz-target": "AmazonSQS.SendMessage",
    },
    fetch: (_url, init) => {
      const headers = Object.entries(init?.headers as Record<string, string>);
      captured = { method: "POST", path: "/", headers, body };
      return Promise.resolve(new Response(""));
    },
  });
  const parts = captured!;
  const headers = parts.headers.flatMap(([name, value]): [string, string][] => {
    if (name !== "authorization" && name !== "x-amz-date") return [[name, value]];
    // The date is garbled now and then too (its value is a field of its own).
    const garbled = name === "x-amz-date" && garbling.edits.length < 2
      ? value
      : applyEdits(value, garbling.edits, headerFields);
    return garbling.twice ? [[name, garbled], [name, value]] : [[name, garbled]];
  });
  return { ...parts, headers };
}

/** A CMQ send, its parameters signed as the Python SDK signs them. */
function cmqRequest(garbling: Garbling): RequestParts {
  const client = new CmqTestClient({
    handler: () => new Response(""),
    host: "127.0.0.1:8080",
    credentials: keyOf(garbling.signer),
    now: Date.now,
  });
  const entries = client.signedParams("SendMessage", { queueName: "jobs", msgBody: "x" });
  const signed = formEncode(entries);
  // The proof is the parameters: the edits may land on any of them.
  const garbled = applyEdits(signed, garbling.edits, formFields);
  const body = garbling.twice ? `${garbled}&${signed}` : garbled;
  return { method: "POST", path: "/v2/index.php", headers: [], body };
}

const doors = ["v1-signed", "v1-bearer", "sqs", "cmq"] as const;

async function requestFor(door: typeof doors[number], garbling: Garbling) {
  switch (door) {
    case "v1-signed":
      return await v1Request(garbling, false);
    case "v1-bearer":
      return await v1Request(garbling, true);
    case "sqs":
      return await sqsRequest(garbling);
    case "cmq":
      return cmqRequest(garbling);
  }
}

async function keyedNode() {
  const node = fuzzNode({ keys: [admin, reader], wallClockSignatures: true });
  const created = await node.send(requestOf(await v1RequestOf("PUT", "/v1/queues/jobs", "{}")));
  assert.equal(created.status, 201, created.text);
  return node;
}

async function v1RequestOf(method: string, path: string, body: string): Promise<RequestParts> {
  const authorization = await signRequest({ method, path, body, ...admin });
  return {
    method,
    path,
    headers: [["content-type", "application/json"], ["authorization", authorization]],
    body,
  };
}

Deno.test("each door serves its client's correctly signed send", async () => {
  await using node = await keyedNode();
  const clean: Garbling = { edits: [], twice: false, signer: "admin" };
  for (const door of doors) {
    const parts = await requestFor(door, clean);
    const answer = await node.check(requestOf(parts), showParts(parts));
    assert.ok(!answer.refused, `${door}: ${answer.status} ${answer.text}`);
  }
});

Deno.test("garbled signatures on every door are refused in the door's shape and write nothing", async () => {
  await using node = await keyedNode();
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...doors), garblings, async (door, garbling) => {
      const parts = await requestFor(door, garbling);
      const answer = await node.check(requestOf(parts), showParts(parts));
      if (garbling.signer !== "admin") {
        assert.ok(answer.refused, `${door} served a send by ${garbling.signer}: ${answer.text}`);
      }
    }),
    runs(0x5eed31, 300),
  );
});

/** Bodies of v1 requests: JSON of wrong shapes, text that is not UTF-8, nothing. */
const v1Json = jsonTexts(["messages", "body", "receiptHandles", "entries", "maxMessages", "fifo"]);
const v1Bodies: fc.Arbitrary<string | Uint8Array<ArrayBuffer>> = fc.oneof(
  { weight: 4, arbitrary: v1Json },
  { weight: 2, arbitrary: withInvalidUtf8(v1Json) },
  { weight: 1, arbitrary: fc.constant("") },
);

Deno.test("correctly signed v1 requests with bad bodies are refused after the signature, cleanly", async () => {
  await using node = await keyedNode();
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(
        "PUT /v1/queues/fresh",
        "PATCH /v1/queues/jobs",
        "POST /v1/queues/jobs/messages",
        "POST /v1/queues/jobs/messages/receive",
        "POST /v1/queues/jobs/messages/delete",
        "POST /v1/queues/jobs/messages/visibility",
        "POST /v1/queues/jobs/purge",
      ),
      v1Bodies,
      fc.oneof(
        { weight: 4, arbitrary: fc.constant("application/json") },
        { weight: 1, arbitrary: fc.constantFrom(...contentTypes) },
      ),
      fc.boolean(),
      async (route, body, type, bearer) => {
        const [method, path] = route.split(" ");
        const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
        const authorization = bearer
          ? `Bearer ${admin.secretId}:${admin.secretKey}`
          : await signRequest({ method, path, body: bytes, ...admin });
        const parts: RequestParts = {
          method,
          path,
          headers: [["content-type", type], ["authorization", authorization]],
          body: bytes,
        };
        await node.check(requestOf(parts), showParts(parts));
      },
    ),
    runs(0x5eed32, 300),
  );
});
