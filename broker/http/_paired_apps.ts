/**
 * Test helper: the same app built twice over recording services, with one of its paths in front
 * of hono switched on and off, and the assertions that both answer a request alike. Used by
 * `direct_test.ts` (the v1 hot routes) and `door_direct_test.ts` (the CMQ and SQS doors).
 *
 * @module
 */
import assert from "node:assert/strict";
import { BrokerError, type QueueService, type TopicService } from "../service/mod.ts";
import { AccessGuard } from "./access_guard.ts";
import { createApp } from "./app.ts";
import { Metrics } from "./metrics.ts";
import { FakeStatus, parsePrometheusText, recordingService } from "./testing/mod.ts";
import { keyRingOf, type Keys, nowMs } from "./_access_fixtures.ts";

/** What the recording services answer a receive with (a body JSON must escape). */
export const received = {
  messages: [{
    id: "m1",
    sequence: 1,
    body: 'a "quoted" body\n\u2028',
    receiptHandle: "h1",
    enqueuedAt: 1,
    firstReceivedAt: 2,
    receiveCount: 1,
    visibleAt: 3,
    groupId: "g",
    attributes: { k: "v" },
  }],
  deleted: 1,
  failures: [],
};

/** Queue names that make the recording service fail, and how. */
function outcome(queue: string, ok: unknown): unknown {
  if (queue === "missing") throw new BrokerError("QueueNotFound", `queue '${queue}' not found`);
  if (queue === "busy") {
    throw new BrokerError("NotReady", "catching up", { retryAfterSeconds: 1.5 });
  }
  if (queue === "buggy") throw new Error("a bug");
  if (queue === "maybe") {
    throw new BrokerError("NotReady", "outcome unknown", {
      retryAfterSeconds: 1,
      outcomeUnknown: true,
    });
  }
  return ok;
}

/**
 * The recording services' answers; queues and topics named `missing`, `busy`, `buggy` and
 * `maybe` fail (not found, not ready, a bug, a write whose outcome is unknown).
 */
export const serviceAnswers: Partial<Record<keyof QueueService, unknown>> = {
  createQueue: { queue: { name: "orders" }, created: true },
  listQueues: { total: 0, queues: [] },
  // Every queue is standard (the SQS door checks a URL's kind before a message operation).
  queueIsFifo: (queue: string) => outcome(queue, false),
  sendMessages: (queue: string) => outcome(queue, { messages: [{ id: "m1", sequence: 1 }] }),
  receiveMessages: (queue: string) => outcome(queue, received),
  deleteMessages: (queue: string) => outcome(queue, { deleted: 1, failures: [] }),
  // A topic's publish (the recording service serves topics too).
  ...{
    publish: (topic: string) =>
      outcome(topic, { messages: [{ id: "m1", fannedOut: 2, failures: [] }] }),
  },
};

/** What both apps are built with. */
export interface PairOptions {
  keys?: Keys;
  loopbackOnly?: boolean;
  requestBytesMax?: number;
  leader?: string;
}

async function makeApp(
  answers: Partial<Record<keyof QueueService, unknown>>,
  paths: { directRoutes?: boolean; doorDirect?: boolean },
  options: PairOptions,
) {
  const { service, calls } = recordingService(answers);
  const metrics = new Metrics();
  const status = new FakeStatus();
  status.leader = options.leader ?? null;
  const logged: string[] = [];
  const access = new AccessGuard({
    keyRing: options.keys === undefined ? null : await keyRingOf(options.keys),
    loopbackOnly: options.loopbackOnly ?? false,
    nowMs: () => nowMs,
  });
  const app = createApp({
    service,
    topics: service as unknown as TopicService,
    status,
    metrics,
    access,
    requestBytesMax: options.requestBytesMax,
    logError: (message) => logged.push(message),
    ...paths,
  });
  return { app, calls, metrics, logged };
}

/** One of the two apps. */
export type PairedApp = Awaited<ReturnType<typeof makeApp>>;

/** The app with the path under test (`direct`) and without it (`reference`). */
export interface AppPair {
  direct: PairedApp;
  reference: PairedApp;
}

/** Builds both apps: `path` on in `direct`, off in `reference`, everything else the same. */
export async function pairedApps(
  path: "directRoutes" | "doorDirect",
  answers: Partial<Record<keyof QueueService, unknown>>,
  options: PairOptions = {},
): Promise<AppPair> {
  return {
    direct: await makeApp(answers, { [path]: true }, options),
    reference: await makeApp(answers, { [path]: false }, options),
  };
}

const uuidPattern = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** An answer as compared: ids the two apps draw themselves replaced by `<id>`. */
export interface Answer {
  status: number;
  headers: [string, string][];
  body: string;
}

async function answerOf(door: PairedApp, path: string, init: RequestInit, env?: unknown) {
  const response = await door.app.request(path, init, env);
  const ids = (text: string) => text.replaceAll(uuidPattern, "<id>");
  return {
    status: response.status,
    headers: [...response.headers].map(([name, value]) => [name, ids(value)]),
    body: ids(await response.text()),
  } as Answer;
}

/**
 * Sends the same request to both apps; asserts the same answer, the same service calls (the
 * first two arguments: the third of a receive holds its abort signal) and the same log lines.
 */
export async function same(
  pair: AppPair,
  path: string,
  init: () => RequestInit,
  env?: unknown,
): Promise<Answer> {
  const expected = await answerOf(pair.reference, path, init(), env);
  const actual = await answerOf(pair.direct, path, init(), env);
  assert.deepStrictEqual(actual, expected, `${path} ${String(init().body).slice(0, 120)}`);
  const calls = (door: PairedApp) =>
    door.calls.map(({ method, args }) => ({ method, args: args.slice(0, 2) }));
  assert.deepStrictEqual(calls(pair.direct), calls(pair.reference));
  const logged = (door: PairedApp) =>
    door.logged.map((line) => line.replaceAll(uuidPattern, "<id>"));
  assert.deepStrictEqual(logged(pair.direct), logged(pair.reference));
  return actual;
}

/** Both apps counted the same requests under the same labels; returns the samples. */
export function sameMetrics(pair: AppPair): [string, number][] {
  const samples = (door: PairedApp) =>
    [...parsePrometheusText(door.metrics.text())].filter(([name]) =>
      name.startsWith("cmqd_http_requests_total") ||
      name.startsWith("cmqd_http_request_duration_seconds_count")
    ).sort();
  const direct = samples(pair.direct);
  assert.ok(direct.length > 0);
  assert.deepStrictEqual(direct, samples(pair.reference));
  return direct;
}
