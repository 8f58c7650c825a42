/**
 * Test helper of the doors' generated bad-input tests: a whole node's app (`createApp`, every
 * door and the ops routes) over the real engine on a manual clock, and the check every generated
 * request goes through: an answer, never a hung request; no 5xx and nothing logged as internal;
 * an error in the shape of the door that answered; and a refusal that proposed nothing.
 *
 * @module
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { FileKeyRing } from "../auth/mod.ts";
import type { AccessKey } from "../auth/mod.ts";
import { memoryEngine } from "../cluster/testing/mod.ts";
import { AccessGuard } from "./access_guard.ts";
import { createApp } from "./app.ts";
import { Metrics } from "./metrics.ts";
import { cmqDoorPath } from "./cmq_v2/mod.ts";
import { isSqsRequest } from "./sqs/mod.ts";
import { FakeStatus } from "./testing/mod.ts";

/** The node under test: the app, its engine, and what it logged as internal failures. */
export function fuzzNode(
  options: { keys?: AccessKey[]; wallClockSignatures?: boolean } = {},
) {
  const { clock, replica, broker, topics } = memoryEngine({ randomSalt: () => 7 });
  const logged: string[] = [];
  const access = new AccessGuard({
    keyRing: options.keys === undefined ? null : FileKeyRing.fromKeys(options.keys),
    loopbackOnly: false,
    // Signatures are checked against the wall clock when the test's clients sign with it.
    nowMs: options.wallClockSignatures === true ? Date.now : () => clock.now(),
  });
  const app = createApp({
    service: broker,
    topics,
    status: new FakeStatus(),
    metrics: new Metrics(),
    access,
    logError: (message, error) => logged.push(`${message} ${(error as Error)?.stack ?? error}`),
  });
  const node = { clock, replica, broker, topics, app, logged, tally: new Map<string, number>() };
  return {
    ...node,
    /** Sends `request`, letting the manual clock run so that long polls end; answers it read. */
    send: (request: Request): Promise<Answer> => answerOf(node, request),
    /** Sends `request` and checks everything the doors promise of bad input (see the module). */
    check: (request: Request, shown: string): Promise<Answer & { refused: boolean }> =>
      checkAnswer(node, request, shown),
    async [Symbol.asyncDispose]() {
      // For a hunt by hand: how the answers were spread over doors and outcomes.
      if (Deno.env.get("DOOR_FUZZ_TALLY") !== undefined) {
        console.log([...node.tally].sort((a, b) => b[1] - a[1]));
      }
      await app.close();
      broker.close();
    },
  };
}

interface Node {
  broker: ReturnType<typeof memoryEngine>["broker"];
  topics: ReturnType<typeof memoryEngine>["topics"];
  clock: ReturnType<typeof memoryEngine>["clock"];
  replica: ReturnType<typeof memoryEngine>["replica"];
  app: ReturnType<typeof createApp>;
  logged: string[];
  tally: Map<string, number>;
}

/** What an answer said. */
export interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

/**
 * The answer to `request`. The engine's timers run on the manual clock: while no answer has come,
 * the clock is moved on (a long poll ends within its 20 s); one that never comes fails the test.
 */
async function answerOf(node: Node, request: Request): Promise<Answer> {
  let settled = false;
  const answer = Promise.resolve(node.app.fetch(request)).then(async (response) => {
    const text = await response.text();
    return { status: response.status, headers: response.headers, text };
  });
  answer.finally(() => settled = true).catch(() => {});
  for (let turn = 0; turn < 400 && !settled; turn++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    if (turn % 4 === 3) node.clock.advance(1_000);
  }
  assert.ok(settled, `no answer came (hung request): ${request.method} ${request.url}`);
  return await answer;
}

/** What a client can read of every queue, topic and subscription. */
async function stateOf(node: Node): Promise<unknown> {
  const everything = { offset: 0, limit: 1000 };
  const { queues } = await node.broker.listQueues(everything);
  const { topics } = await node.topics.listTopics(everything);
  const subscriptions = await Promise.all(
    topics.map(async (topic) => (await node.topics.listSubscriptions(topic.name, everything))),
  );
  return { queues, topics, subscriptions };
}

/** Which door answered a request (the rules of `door_direct.ts` and `isSqsRequest`). */
export function doorOf(request: Request): "cmq" | "sqs-json" | "sqs-query" | "native" {
  const url = new URL(request.url);
  if (url.pathname === cmqDoorPath && request.method !== "HEAD") {
    // A raw path that only decodes to the door's (`/v2/index%2Ephp`) is not the door's.
    const raw = request.url.slice(request.url.indexOf("/", request.url.indexOf("://") + 3));
    if (raw.startsWith(cmqDoorPath) && /^(?:\?|$)/.test(raw.slice(cmqDoorPath.length))) {
      return "cmq";
    }
  }
  if (isSqsRequest(request)) {
    return request.headers.get("x-amz-target") !== null && url.pathname === "/"
      ? "sqs-json"
      : "sqs-query";
  }
  return "native";
}

/** The check of one answer; returns it with whether it was a refusal. */
async function checkAnswer(
  node: Node,
  request: Request,
  shown: string,
): Promise<Answer & { refused: boolean }> {
  const door = doorOf(request);
  const before = node.replica.lastIndex;
  const state = await stateOf(node);
  const answer = await answerOf(node, request);
  const said = `${door} ${answer.status} ${answer.text.slice(0, 300)} for ${shown}`;
  assert.ok(answer.status < 500, said);
  assert.deepEqual(node.logged, [], said);
  let refused = answer.status >= 400;
  if (door === "cmq") {
    assert.equal(answer.status, 200, said);
    const body = JSON.parse(answer.text);
    assert.equal(typeof body.code, "number", said);
    assert.equal(typeof body.message, "string", said);
    assert.notEqual(body.code, 6000, said);
    refused = body.code !== 0;
    if (refused) assert.ok(body.message.length > 0, said);
  } else if (refused && door === "sqs-json") {
    const body = JSON.parse(answer.text);
    assert.match(body.__type, /^com\.amaz/, said);
    assert.equal(typeof body.message, "string", said);
    assert.match(answer.headers.get("x-amzn-query-error") ?? "", /;(?:Sender|Receiver)$/, said);
  } else if (refused && door === "sqs-query") {
    assert.match(answer.text, /<ErrorResponse[^>]*>.*<Code>[A-Za-z.]+<\/Code>/s, said);
  } else if (refused && request.method !== "HEAD") {
    const body = JSON.parse(answer.text);
    assert.equal(typeof body.error?.code, "string", said);
    assert.equal(typeof body.error?.message, "string", said);
    assert.equal(body.error.requestId, answer.headers.get("x-request-id"), said);
  }
  const outcome = door === "cmq"
    ? `cmq ${JSON.parse(answer.text).code}`
    : `${door} ${answer.status} ${
      answer.text.match(/"code":"(\w+)"|#(\w+)|<Code>([\w.]+)/)?.slice(1).join("") ?? ""
    }`;
  node.tally.set(outcome, (node.tally.get(outcome) ?? 0) + 1);
  // A refusal writes nothing, or (a conflict the state machine decides at apply, as a create
  // raced by another) an entry that changes nothing a client can read.
  if (refused && node.replica.lastIndex !== before) {
    assert.deepEqual(await stateOf(node), state, `a refusal changed the state: ${said}`);
  }
  return { ...answer, refused };
}

/** The request a generated description stands for (`body`: text or raw bytes). */
export interface RequestParts {
  method: string;
  path: string;
  headers: [string, string][];
  body?: string | Uint8Array<ArrayBuffer>;
}

/** Builds a request (a header value a `Headers` refuses is left out). */
export function requestOf(parts: RequestParts): Request {
  const headers = new Headers();
  for (const [name, value] of parts.headers) {
    try {
      headers.append(name, value);
    } catch {
      // Not sendable over HTTP/1.1: no client could send it either.
    }
  }
  const body = parts.method === "GET" || parts.method === "HEAD" ? undefined : parts.body;
  return new Request(`http://127.0.0.1:8080${parts.path}`, {
    method: parts.method,
    headers,
    body,
  });
}

/** How a generated request is shown in a failure. */
export function showParts(parts: RequestParts): string {
  const body = typeof parts.body === "string"
    ? parts.body.slice(0, 400)
    : parts.body === undefined
    ? ""
    : `bytes ${[...parts.body.slice(0, 64)]}`;
  return `${parts.method} ${parts.path.slice(0, 300)} ${JSON.stringify(parts.headers)} ${body}`;
}

/** Odd JSON numbers, spelled as text (the JSON generators splice them in raw). */
export const oddNumbers = [
  "-0",
  "0",
  "1",
  "-1",
  "1e400",
  "-1e400",
  "1e-400",
  "0.5",
  "10",
  "11",
  "1000",
  "1001",
  "120",
  "43200",
  "43201",
  "9007199254740993",
  "99999999999999999999999",
  "1.0",
  "1E1",
  "2147483648",
  "-2147483649",
  "4294967296",
];

/** Odd JSON values, spelled as text. */
export const oddValues = [
  ...oddNumbers,
  '"NaN"',
  '"Infinity"',
  '"-0"',
  '"1e400"',
  '""',
  '"x"',
  '"jobs"',
  '"\\u0000"',
  '"\\ud800"',
  '"\\udfff\\ud800"',
  '"__proto__"',
  "null",
  "true",
  "false",
  "[]",
  "{}",
  '[""]',
  "[null]",
  '{"__proto__":{"x":1}}',
  '{"constructor":{"prototype":{"x":1}}}',
  JSON.stringify("é".repeat(70)),
  JSON.stringify("a".repeat(300)),
];

/**
 * JSON text: objects whose members come from `keys` (repeated, nested, `__proto__` and
 * friends), arrays where objects go, and the odd values above.
 */
export function jsonTexts(keys: string[]): fc.Arbitrary<string> {
  const keyArb = fc.constantFrom(...keys, "__proto__", "constructor", "toString", "");
  const { value } = fc.letrec<{ value: string }>((tie) => ({
    value: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      fc.constantFrom(...oddValues),
      fc.array(fc.tuple(keyArb, tie("value")), { maxLength: 6 }).map((members) =>
        `{${members.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(",")}}`
      ),
      fc.array(tie("value"), { maxLength: 4 }).map((items) => `[${items.join(",")}]`),
    ),
  }));
  const deep = fc.integer({ min: 1, max: 3000 }).map((depth) =>
    "[".repeat(depth) + "]".repeat(depth)
  );
  const deepObject = fc.integer({ min: 1, max: 3000 }).map((depth) =>
    '{"a":'.repeat(depth) + "1" + "}".repeat(depth)
  );
  const garbled = fc.constantFrom("", "{", "{}}", "[", "nul", '{"a":1,}', "\uFEFF{}", "{'a':1}");
  return fc.oneof(
    {
      weight: 8,
      arbitrary: fc.array(fc.tuple(keyArb, value), { maxLength: 8 }).map((members) =>
        `{${members.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(",")}}`
      ),
    },
    { weight: 2, arbitrary: value },
    { weight: 1, arbitrary: deep },
    { weight: 1, arbitrary: deepObject },
    { weight: 1, arbitrary: garbled },
  );
}

/** Bytes that are not UTF-8 (lone continuation bytes, overlongs, surrogates, truncations). */
export const invalidUtf8 = fc.constantFrom(
  [0x80],
  [0xc0, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xe2, 0x82],
  [0xff, 0xfe],
  [0xef, 0xbf, 0xbe],
  [0x00],
);

/** Text with bytes that are not UTF-8 spliced in somewhere. */
export function withInvalidUtf8(text: fc.Arbitrary<string>): fc.Arbitrary<Uint8Array<ArrayBuffer>> {
  return fc.tuple(text, invalidUtf8, fc.nat()).map(([base, bad, at]) => {
    const bytes = new TextEncoder().encode(base);
    const cut = bytes.length === 0 ? 0 : at % (bytes.length + 1);
    const out = new Uint8Array(bytes.length + bad.length);
    out.set(bytes.subarray(0, cut));
    out.set(bad, cut);
    out.set(bytes.subarray(cut), cut + bad.length);
    return out;
  });
}

/** Path segments: names good and bad, escapes valid and not. */
export const oddSegments = [
  "jobs",
  "orders",
  "missing",
  "feed",
  "audit",
  "%zz",
  "%",
  "%2",
  "%00",
  "a%00b",
  "%2e",
  "%2E%2E",
  "..",
  ".",
  "a.b",
  "a%2Fb",
  "%C3%A9",
  "%ED%A0%80",
  "%C3",
  "%F0%9F%98%80",
  "%FF",
  "__proto__",
  "constructor",
  "hasOwnProperty",
  "a".repeat(64),
  "a".repeat(65),
  "b".repeat(5000),
  "jobs.fifo",
  "%20",
  "+",
  "-",
  "_",
  "A",
];

/** Content types, right and wrong. */
export const contentTypes = [
  "application/json",
  "application/json; charset=utf-8",
  "application/json; charset=latin1",
  "APPLICATION/JSON",
  "application/jsonx",
  "text/plain",
  "text/xml",
  "application/x-www-form-urlencoded",
  "application/x-www-form-urlencoded; charset=utf-8",
  "application/x-amz-json-1.0",
  "application/x-amz-json-1.1",
  "multipart/form-data; boundary=x",
  "*/*",
  "",
  ";",
  "application/json;;;",
];

/**
 * Fast-check's settings of the doors' generated tests: fixed seeds, bounded runs. For a longer
 * hunt by hand, `DOOR_FUZZ_SEED` replaces the seeds and `DOOR_FUZZ_RUNS` multiplies the runs.
 */
export function runs(seed: number, numRuns: number): fc.Parameters<unknown> {
  const given = Deno.env.get("DOOR_FUZZ_SEED");
  const times = Number(Deno.env.get("DOOR_FUZZ_RUNS") ?? "1");
  return {
    seed: given === undefined ? seed : seed ^ Number(given),
    numRuns: numRuns * (Number.isSafeInteger(times) && times > 0 ? times : 1),
    endOnFailure: true,
  };
}
