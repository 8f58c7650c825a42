/**
 * Test setup of the SQS door: the real engine (`EngineService` over a one-node `MemoryReplica` on the
 * wall clock, so long polls and the SDK's own timers run as in production) behind the door on a
 * real port, and an unmodified `@aws-sdk/client-sqs` client pointed at it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { SQSClient } from "./_npm_test_deps.ts";
import { type AccessKey, FileKeyRing, type KeyRing } from "../../auth/mod.ts";
import { wallClockEngine } from "../../cluster/testing/mod.ts";
import { forwardingHandler } from "../../cluster/forwarding.ts";
import { createSqsDoor } from "./mod.ts";
import type { MoveTaskLimits, MoveTaskTime } from "./move_task_runs.ts";
import type { QueueService } from "../../service/mod.ts";

/** The key every signed test uses unless it says otherwise. */
export const adminKey: AccessKey = {
  secretId: "AKIDadmin",
  secretKey: "admin-secret",
  allow: ["*"],
};

/** Options of `startDoor`. */
export interface StartOptions {
  /** Keys the door checks signatures against (default: none, signatures not checked). */
  keys?: AccessKey[];
  /** Serve the door behind a leader's forwarding handler, as a node does. */
  asLeader?: boolean;
  /** A key ring to check against instead of `keys` (one the test reloads). */
  keyRing?: KeyRing;
  /** The key the client signs with (default `adminKey`). */
  clientKey?: { secretId: string; secretKey: string };
  /** The door's clock (default `Date.now`). */
  now?: () => number;
  /** The door's bounds of message move tasks. */
  moveTasks?: MoveTaskLimits;
  /** What the door calls instead of the engine's service (a wrapper of it). */
  wrapService?: (service: QueueService) => QueueService;
  /** The door's monotonic clock and timers (default `performance.now()` and `setTimeout`). */
  time?: MoveTaskTime;
  /** Where the door tells the node's log what it did (default: not told). */
  report?: (line: string) => void;
  /** The engine behind the door (default: `wallClockEngine()`; `memoryEngine()` for a fake clock). */
  engine?: ReturnType<typeof wallClockEngine>;
}

/** A running door, its engine and a client; `await using` stops all of it. */
export function startDoor(options: StartOptions = {}) {
  const { replica, broker } = options.engine ?? wallClockEngine();
  const errors: unknown[] = [];
  const door = createSqsDoor({
    service: options.wrapService?.(broker) ?? broker,
    moveTasks: options.moveTasks,
    keys: options.keyRing ??
      (options.keys === undefined ? null : FileKeyRing.fromKeys(options.keys)),
    now: options.now,
    time: options.time,
    logError: (_message, error) => errors.push(error),
    report: options.report,
  });
  // As a node serves it: behind the forwarding handler, as the leader (which restores the host
  // a forwarded request was sent to).
  const leader = options.asLeader
    ? forwardingHandler({
      view: { isLeader: () => true, leaderUrl: () => null },
      local: (request) => door(request),
      requestBytesMax: 1 << 20,
    })
    : door;
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, leader);
  const endpoint = `http://127.0.0.1:${server.addr.port}`;
  const clients: SQSClient[] = [];
  /** A client signing with `key` (default: the options' client key, else `adminKey`). */
  const clientFor = (
    key = options.clientKey ?? adminKey,
    settings: { maxAttempts?: number } = {},
  ) => {
    const client = new SQSClient({
      endpoint,
      region: "eu-west-1",
      credentials: { accessKeyId: key.secretId, secretAccessKey: key.secretKey },
      maxAttempts: settings.maxAttempts ?? 1,
    });
    clients.push(client);
    return client;
  };
  const client = clientFor();
  return {
    broker,
    replica,
    endpoint,
    client,
    clientFor,
    /** The door itself, in process (a request's body is read only as far as the door reads). */
    handle: (request: Request) => door(request),
    /** Failures the door reported as internal (a test expects none). */
    errors,
    /** The URL the door gives the queue `sqsName`. */
    queueUrl: (sqsName: string) => `${endpoint}/000000000000/${sqsName}`,
    async [Symbol.asyncDispose]() {
      for (const each of clients) each.destroy();
      // The message move tasks run in the background: none may outlive the test.
      await door.close();
      broker.close();
      await server.shutdown();
    },
  };
}

/**
 * Posts a raw AWS JSON 1.0 request (unsigned) and answers status, headers and parsed body. A
 * header given as null is left out (`{"content-type": null}` sends none).
 */
export async function rawCall(
  endpoint: string,
  target: string | null,
  body: string | Uint8Array<ArrayBuffer>,
  headers: Record<string, string | null> = {},
) {
  const given: Record<string, string | null> = {
    "content-type": "application/x-amz-json-1.0",
    ...(target === null ? {} : { "x-amz-target": target }),
    ...headers,
  };
  const sent = Object.entries(given).filter((entry): entry is [string, string] =>
    entry[1] !== null
  );
  // A string body would make fetch add `text/plain`: bytes carry no type of their own.
  const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
  const response = await fetch(endpoint + "/", { method: "POST", headers: sent, body: bytes });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: JSON.parse(text) };
}

/** Asserts `promise` rejects with the SDK error `name` (and `Code`, status when given). */
export async function rejectsWith(
  promise: Promise<unknown>,
  expected: { name: string; code?: string; status?: number; message?: RegExp },
): Promise<void> {
  await assert.rejects(promise, (error: Record<string, unknown> & Error) => {
    assert.equal(error.name, expected.name, error.message);
    if (expected.code !== undefined) assert.equal(error.Code, expected.code);
    if (expected.status !== undefined) {
      assert.equal((error.$metadata as { httpStatusCode: number }).httpStatusCode, expected.status);
    }
    if (expected.message !== undefined) assert.match(error.message, expected.message);
    return true;
  });
}
