/**
 * Checks of the options of `CmqdClient`, `Producer` and `Consumer`, run when they are built: a
 * value no call could use throws there, naming the option and what it may be, rather than
 * working in some surprising way later (a `NaN` timeout was never armed: calls had none at all).
 * A number that is no number is a `TypeError`, one out of its range a `RangeError`.
 *
 * @module
 */
import { retryDefaults, type RetryOptions } from "./retry.ts";

/** An access key: its id and its secret. */
export interface Credentials {
  /** The key's id, as the broker's credentials file names it. */
  secretId: string;
  /** The key's secret; used to sign, never sent. */
  secretKey: string;
}

/** How a value is shown in a message: strings quoted, so `"16"` is told from `16`. */
function shown(value: unknown): string {
  return typeof value === "string" ? `the string ${JSON.stringify(value)}` : String(value);
}

/**
 * What an option makes of `Infinity`: `unbounded` takes it as no bound at all (its text says
 * what that means, in the messages; the option's code must handle it: no timer armed with it, no
 * loop counting up to it); `instead` refuses it, saying what to give instead. `Infinity` was taken
 * by some options before they were checked: a program that wrote it for "no limit" is told which.
 */
export type InfinityMeaning = { unbounded: string } | { instead: string };

/** The range a numeric option may take, as messages say it. */
function rangeOf(base: string, infinity: InfinityMeaning | undefined): string {
  return infinity !== undefined && "unbounded" in infinity
    ? `${base}, or Infinity for ${infinity.unbounded}`
    : base;
}

/** Throws the `RangeError` of an `Infinity` that `infinity` does not take. */
function refuseInfinity(
  name: string,
  range: string,
  infinity: InfinityMeaning | undefined,
  max: number,
): never {
  const instead = infinity !== undefined && "instead" in infinity
    ? infinity.instead
    : max === Infinity
    ? "give a finite number"
    : `the most it takes is ${max}`;
  throw new RangeError(`${name} must be ${range}, got Infinity: ${instead}`);
}

/**
 * `value` when it is an integer in `[min, max]` (`max` Infinity: no upper bound), else throws;
 * `Infinity` itself only when `infinity` takes it as unbounded.
 */
export function checkInteger(
  name: string,
  value: unknown,
  min: number,
  max: number,
  infinity?: InfinityMeaning,
): number {
  const range = rangeOf(
    max === Infinity ? `an integer ≥ ${min}` : `an integer from ${min} to ${max}`,
    infinity,
  );
  if (typeof value !== "number") {
    throw new TypeError(`${name} must be ${range}, not ${typeof value} (${shown(value)})`);
  }
  if (value === Infinity) {
    if (infinity !== undefined && "unbounded" in infinity) return value;
    refuseInfinity(name, range, infinity, max);
  }
  if (!(Number.isInteger(value) && value >= min && value <= max)) {
    throw new RangeError(`${name} must be ${range}, got ${value}`);
  }
  return value;
}

/** `value` when it is a finite number of milliseconds in `[min, max]`. */
export function checkMs(
  name: string,
  value: unknown,
  min: number,
  max: number,
  infinity?: { instead: string },
): number {
  const range = `a number of milliseconds from ${min} to ${max}`;
  if (typeof value !== "number") {
    throw new TypeError(`${name} must be ${range}, not ${typeof value} (${shown(value)})`);
  }
  if (value === Infinity) refuseInfinity(name, range, infinity, max);
  if (!(value >= min && value <= max)) {
    throw new RangeError(`${name} must be ${range}, got ${value}`);
  }
  return value;
}

/**
 * `value` when it is a duration in milliseconds above 0; `Infinity` is taken only where it means
 * "none" (`infinite`, which says so in the messages).
 */
export function checkTimeoutMs(name: string, value: unknown, infinite: string): number {
  const range = `a number of milliseconds > 0, or Infinity for ${infinite}`;
  if (typeof value !== "number") {
    throw new TypeError(`${name} must be ${range}, not ${typeof value} (${shown(value)})`);
  }
  if (!(value > 0)) throw new RangeError(`${name} must be ${range}, got ${value}`);
  return value;
}

/**
 * Bounds of a back-off, each a finite number of milliseconds `floor`, and `min` ≤ `max` unless
 * `ordered` is false (the client's retries: one bound given alone may cross the other's default,
 * which then gives way, as `backoffMs` has always read it).
 */
export function checkBackoff(
  prefix: string,
  bounds: { backoffMsMin: unknown; backoffMsMax: unknown },
  floor: "≥ 0" | "> 0",
  ordered = true,
): { backoffMsMin: number; backoffMsMax: number } {
  const checked = (field: "backoffMsMin" | "backoffMsMax"): number => {
    const value = bounds[field];
    const name = `${prefix}.${field}`;
    const range = `a finite number of milliseconds ${floor}`;
    if (typeof value !== "number") {
      throw new TypeError(`${name} must be ${range}, not ${typeof value} (${shown(value)})`);
    }
    if (value === Infinity) {
      // No bound on the back-off would let it grow past any timer's range (which fires at once).
      const instead = field === "backoffMsMax"
        ? "give the longest pause to wait between attempts, in milliseconds"
        : "give the first pause, in milliseconds";
      throw new RangeError(`${name} must be ${range}, got Infinity: ${instead}`);
    }
    const above = floor === "> 0" ? value > 0 : value >= 0;
    if (!(above && Number.isFinite(value))) {
      throw new RangeError(`${name} must be ${range}, got ${value}`);
    }
    return value;
  };
  const backoffMsMin = checked("backoffMsMin");
  const backoffMsMax = checked("backoffMsMax");
  if (ordered && backoffMsMax < backoffMsMin) {
    throw new RangeError(
      `${prefix}.backoffMsMax (${backoffMsMax}) must be ≥ ${prefix}.backoffMsMin (${backoffMsMin})`,
    );
  }
  return { backoffMsMin, backoffMsMax };
}

/**
 * The client's retry bounds: `retry` over `retryDefaults`, checked. `attemptsMax` given without
 * `budgetMs` bounds the retries by count alone (no time budget), as before the budget existed.
 */
export function checkRetry(retry: Partial<RetryOptions> | undefined): RetryOptions {
  const countOnly = retry?.attemptsMax !== undefined && retry?.budgetMs === undefined;
  const merged = { ...retryDefaults, ...(countOnly ? { budgetMs: Infinity } : {}), ...retry };
  const budgetMs: unknown = merged.budgetMs;
  const range = "a number of milliseconds ≥ 0, or Infinity for no time bound";
  if (typeof budgetMs !== "number") {
    throw new TypeError(
      `retry.budgetMs must be ${range}, not ${typeof budgetMs} (${shown(budgetMs)})`,
    );
  }
  if (!(budgetMs >= 0)) throw new RangeError(`retry.budgetMs must be ${range}, got ${budgetMs}`);
  return {
    attemptsMax: checkInteger("retry.attemptsMax", merged.attemptsMax, 1, Infinity, {
      unbounded: "no bound (until the call's signal aborts)",
    }),
    budgetMs,
    // Both bounds given must be in order; one alone may cross the other's default.
    ...checkBackoff(
      "retry",
      merged,
      "≥ 0",
      retry?.backoffMsMin !== undefined && retry?.backoffMsMax !== undefined,
    ),
  };
}

/** `value` when it is a boolean, or `fallback` when it is absent. */
export function checkBoolean(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") {
    throw new TypeError(`${name} must be a boolean, not ${typeof value} (${shown(value)})`);
  }
  return value;
}

/** Throws unless `value` is a function or absent. */
export function checkFunction(name: string, value: unknown): void {
  if (value !== undefined && typeof value !== "function") {
    throw new TypeError(`${name} must be a function, not ${typeof value} (${shown(value)})`);
  }
}

/** Refuses unusable credentials when the client is built, not on its first call. */
export function checkCredentials(credentials: Credentials | undefined): Credentials | undefined {
  if (credentials === undefined) return undefined;
  const { secretId, secretKey } = credentials;
  if (typeof secretId !== "string" || !/^[A-Za-z0-9._-]{1,128}$/.test(secretId)) {
    throw new TypeError("credentials.secretId must be 1–128 of A-Z a-z 0-9 . _ -");
  }
  if (typeof secretKey !== "string" || secretKey.length === 0) {
    throw new TypeError("credentials.secretKey must be a non-empty string");
  }
  return { secretId, secretKey };
}

/** A header name: an HTTP token (RFC 9110 §5.1). */
const headerName = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** What no transport sends in a header value (it would end the header line, or the string). */
const headerValueForbidden = /[\r\n\0]/;

/**
 * Refuses `headers` no request could carry when the client is built: before, every call failed
 * in the transport ("bad header"), was taken for a `NetworkError` and retried with back-off. The
 * message names the header, never its value (it may be a token).
 */
export function checkHeaders(headers: Record<string, string> | undefined): Record<string, string> {
  const checked: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (!headerName.test(name)) {
      throw new TypeError(`headers: header '${name}' is not a valid header name`);
    }
    if (headerValueForbidden.test(String(value))) {
      throw new TypeError(`headers: header '${name}' has a value with CR, LF or NUL`);
    }
    checked[name] = value;
  }
  return checked;
}

/**
 * A listed node's base URL, without trailing slashes; not an http(s) URL throws (before, each call
 * failed as a `NetworkError`, retried, however the client's transport parsed it).
 */
export function checkBaseUrl(baseUrl: string): string {
  let protocol: string;
  try {
    protocol = new URL(baseUrl).protocol;
  } catch {
    throw new TypeError(`baseUrl is not a URL: '${baseUrl}'`);
  }
  if (protocol !== "http:" && protocol !== "https:") {
    throw new TypeError(`baseUrl must be an http(s) URL, not ${protocol}: '${baseUrl}'`);
  }
  return normalizeBaseUrl(baseUrl);
}

/** `baseUrl` without its trailing slashes. */
export function normalizeBaseUrl(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, "");
}
