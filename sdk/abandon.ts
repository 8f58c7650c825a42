/**
 * Stops waiting on a transport's promise once the attempt is aborted: a custom `HttpTransport`
 * may ignore its abort signal, and a call must still end at its timeout or the caller's abort.
 *
 * @module
 */

/**
 * `work`'s outcome, or a rejection with `signal`'s reason as soon as `signal` aborts, whichever
 * comes first. No timer of its own: the caller's deadline aborts `signal`. When `signal` wins,
 * `work` is abandoned: its later value is dropped and its later rejection handled (never an
 * unhandled rejection).
 */
export function abandonOnAbort<T>(work: PromiseLike<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
