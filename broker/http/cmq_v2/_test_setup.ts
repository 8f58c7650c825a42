/**
 * Shared setup of the door's tests: the real engine (a `Broker` over an in-memory replica with
 * a manual clock) behind `createCmqDoor`, a CMQ client speaking the SDKs' wire format, and a
 * small key ring. Test-only.
 *
 * @module
 */
import assert from "node:assert/strict";
import { memoryEngine } from "../../cluster/testing/mod.ts";
import type { AccessKey } from "./deps.ts";
import { FileKeyRing } from "../../auth/mod.ts";
import { type CmqDoorOptions, createCmqDoor } from "./mod.ts";
import { type CmqReply, CmqTestClient, type CmqTestClientOptions } from "./_cmq_test_client.ts";

/** A key allowed everything. */
export const adminKey: AccessKey = {
  secretId: "AKIDadmin",
  secretKey: "admin-secret-key",
  allow: ["*"],
};

/** A key that may receive from `images` and send to `results`, and nothing else. */
export const workerKey: AccessKey = {
  secretId: "AKIDworker",
  secretKey: "worker-secret-key",
  allow: ["queue:images:receive", "queue:results:send"],
};

/** Options of `setup`. */
export interface SetupOptions {
  /** The key ring's keys; absent: no credentials configured. */
  keys?: AccessKey[];
  /** The key the client signs with (default: the first key). */
  clientKey?: AccessKey;
  client?: Partial<CmqTestClientOptions>;
  door?: Partial<CmqDoorOptions>;
  /** Serve topic actions through the engine's topic service (default: not served). */
  topics?: boolean;
}

/** The engine, the door and a client; `refused` asserts a refusal that changed nothing. */
export function setup(options: SetupOptions = {}) {
  const { clock, replica, broker, topics } = memoryEngine({ randomSalt: () => 7 });
  const logged: unknown[] = [];
  const door = createCmqDoor({
    service: broker,
    topics: options.topics === true ? topics : undefined,
    keys: options.keys === undefined ? null : FileKeyRing.fromKeys(options.keys),
    now: () => clock.now(),
    logError: (_message, error) => logged.push(error),
    ...options.door,
  });
  const signingKey = options.clientKey ?? options.keys?.[0];
  const client = new CmqTestClient({
    handler: (request) => door.request(request),
    credentials: signingKey,
    now: () => clock.now(),
    ...options.client,
  });

  /** Asserts the reply is `code` (message starting with `(module)`) and nothing was proposed. */
  async function refused(
    call: () => Promise<CmqReply>,
    code: number,
    module?: number,
  ): Promise<CmqReply> {
    const before = replica.lastIndex;
    const reply = await call();
    assert.equal(reply.status, 200);
    assert.equal(reply.body.code, code, JSON.stringify(reply.body));
    if (module !== undefined) assert.match(reply.body.message, new RegExp(`^\\(${module}\\)`));
    assert.equal(replica.lastIndex, before, "a refused request proposed something");
    return reply;
  }

  return { clock, replica, broker, topics, door, client, refused, logged };
}

/** Waits (bounded) until `condition` holds, letting queued callbacks run. */
export async function until(condition: () => boolean): Promise<void> {
  for (let turn = 0; turn < 200 && !condition(); turn++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  assert.ok(condition(), "condition not reached");
}

/** What the Python SDK sends with every Subscribe (its SubscriptionMeta defaults). */
export const sdkSubscribeDefaults = {
  notifyStrategy: "EXPONENTIAL_DECAY_RETRY",
  notifyContentFormat: "JSON",
};

/** Asserts a CMQ answer succeeded (code 0) and returns its body. */
export function ok(reply: { body: Record<string, unknown> }): Record<string, unknown> {
  assert.equal(reply.body.code, 0, JSON.stringify(reply.body));
  return reply.body;
}
