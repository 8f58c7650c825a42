/**
 * Reading the answers to the consumer's deletes and lock changes, and the errors made of them.
 * Internal to `consumer_acks.ts`.
 *
 * @module
 */
import { CmqdError } from "./errors.ts";
import type { HandleFailure } from "./protocol.ts";

/**
 * `call()`, whose synchronous throw (a custom client's) becomes a rejection like any other
 * failure: thrown in a timer's callback, it would end the process.
 */
export function calling<T>(call: () => Promise<T>): Promise<T> {
  try {
    return Promise.resolve(call());
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * A lock-change call unanswered at half of the time its soonest lock had left, or after
 * `boundMs` (`changeCallMsMax`) when that is sooner or none of its locks had a known deadline.
 */
export function givenUp(boundMs?: number): CmqdError {
  const within = boundMs === undefined
    ? "half of the time left on the soonest lock it carries"
    : `${boundMs} ms`;
  return new CmqdError(
    "Timeout",
    `no answer to a lock change within ${within}: the call was given up, its changes may or ` +
      "may not have taken effect",
    { status: 0 },
  );
}

/** The calls whose answers the acks read. */
export type Call = "delete" | "lock change";

/**
 * `answer[field]`, a list the API always includes, read leniently: a server or proxy that leaves
 * an empty one out means none (as the receive path reads its `failures`); anything but a list
 * is an answer of another shape.
 */
export function listOf<T>(answer: unknown, field: string, call: Call): T[] {
  const value = fieldOf(answer, field, call);
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw unexpected(call, `'${field}' is not a list`);
  return value;
}

/** `answer[field]`, a count: left out is 0 (as `listOf`); anything but a number is wrong. */
export function countOf(answer: unknown, field: string, call: Call): number {
  const value = fieldOf(answer, field, call);
  if (value === undefined) return 0;
  if (typeof value !== "number") throw unexpected(call, `'${field}' is not a number`);
  return value;
}

function fieldOf(answer: unknown, field: string, call: Call): unknown {
  if (typeof answer !== "object" || answer === null) throw unexpected(call, "not a JSON object");
  return (answer as Record<string, unknown>)[field];
}

/**
 * A 200 answer to a delete or lock change that can't be read (`why`, or the error reading it
 * raised): `UnexpectedResponse`, for the consumer's error handler, never thrown at nobody.
 */
export function unexpected(call: Call, why: unknown): CmqdError {
  if (why instanceof CmqdError) return why;
  const reason = why instanceof Error ? why.message : String(why);
  return new CmqdError("UnexpectedResponse", `HTTP 200 to a ${call} of another shape: ${reason}`, {
    status: 200,
    ...(why instanceof Error ? { cause: why } : {}),
  });
}

/** A lock change the broker's answer leaves out of both `entries` and `failures`. */
export function unanswered(): CmqdError {
  return new CmqdError(
    "UnexpectedResponse",
    "HTTP 200 to a lock change that names one of its receipt handles in neither entries nor " +
      "failures: that change is unconfirmed",
    { status: 200 },
  );
}

export function failureError(failure: HandleFailure, what: "delete" | "lock"): CmqdError {
  const action = what === "delete" ? "could not delete" : "could not change the lock of";
  return new CmqdError(failure.code, `${action} a message: ${failure.message}`, { status: 200 });
}
