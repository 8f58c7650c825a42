/**
 * The error text of a failed push attempt, and what it says (README, "Topics", "Isolation"):
 * whether the endpoint can take nothing now (the subscription pauses) or the failure is about
 * the message (the next one goes out at once).
 *
 * @module
 */

/** Answers that say the endpoint can take nothing now, whatever the message. */
const unavailableAnswers = new Set(["HTTP 429", "HTTP 502", "HTTP 503", "HTTP 504"]);

/** The start of the error of an attempt whose request could not be made: the message's fault. */
const unbuildable = "push request can't be built: ";

/**
 * The error of an attempt whose request could not be built from its message.
 *
 * @example
 * ```ts
 * unbuildableError(new URIError("URI malformed")); // "push request can't be built: URI malformed"
 * ```
 */
export function unbuildableError(error: unknown): string {
  return `${unbuildable}${error instanceof Error ? error.message : String(error)}`;
}

/**
 * Whether a failed attempt's error says the endpoint is unreachable or unavailable: no answer at
 * all (a request that was never made is not one), or 429, 502, 503, 504.
 *
 * @example
 * ```ts
 * endpointUnavailable("HTTP 503"); // true
 * endpointUnavailable("HTTP 500"); // false: about the message
 * ```
 */
export function endpointUnavailable(error: string): boolean {
  if (error.startsWith(unbuildable)) return false;
  return !error.startsWith("HTTP ") || unavailableAnswers.has(error);
}
