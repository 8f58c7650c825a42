/**
 * The `Producer`'s options, and their checks when it is built (`option_checks.ts`). Re-exported by
 * `producer.ts`.
 *
 * @module
 */
import { checkInteger, checkMs } from "./option_checks.ts";

/** The API's bound on the messages of one send request. */
export const batchEntriesMax = 256;

/** Options of a `Producer`. */
export interface ProducerOptions {
  /** Messages per batch at most, 1–256. Default 16. */
  batchSize?: number;
  /**
   * Bytes per batch at most, as the request carries them: bodies, attribute keys and values,
   * `groupId` and `dedupId` (an `autoDedupId` too), UTF-8 and JSON-escaped (a control character is
   * 6 bytes, `\u0001`; a quote, a backslash, a line feed 2), plus 128 per message and 6 per
   * attribute for the JSON around them; fields of an entry the API does not have (from
   * JavaScript) count too, as sent (the broker refuses that message alone). A bigger message goes
   * alone. An integer ≥ 1, or `Infinity`; default 1 MiB; a larger value
   * than the broker's bound on a request, 4 MiB, counts as that bound.
   */
  batchBytesMax?: number;
  /**
   * How long the first message of a batch waits for company, 0–60000 ms (not `Infinity`: a lone
   * send would never leave; `flush()` sends at once). Default 2 ms.
   */
  lingerMs?: number;
  /**
   * Sends accepted and not yet answered, at most (an integer ≥ 1, or `Infinity`: no bound, `send`
   * never waits); `send` waits beyond. Default 1024.
   */
  pendingSendsMax?: number;
  /** Batches on the wire at once, 1–1024. Default 4. */
  inflightBatchesMax?: number;
  /**
   * Give each message without a `dedupId` a random one, so the client's own retries of a batch
   * (an answer lost, a 503 whose outcome is unknown) never enqueue it twice. Default false. The id
   * is not handed back: a send that still rejects (its retries used up — no retry starts past
   * 240 s of the 300 s dedup window —, or aborted on the wire) may have been enqueued, and sent again it gets a new id. To repeat such a send yourself
   * without a duplicate, give the message your own `dedupId` (kept as it is).
   */
  autoDedupId?: boolean;
  /**
   * Keep the order of messages without `groupId` too (they form one group, as on a FIFO queue):
   * they leave one batch at a time, and when one fails, those sent before the failure and not yet
   * on the wire reject with `EarlierSendFailed` instead of going out ahead of its resend, as the
   * messages of a `groupId` do. Default false.
   */
  fifo?: boolean;
}

/** The numeric options, checked, with their defaults (`batchBytesMax` not yet capped). */
export interface CheckedProducerOptions {
  batchSize: number;
  batchBytesMax: number;
  lingerMs: number;
  pendingSendsMax: number;
  inflightBatchesMax: number;
}

/**
 * Checks the numeric options: a value of the wrong type throws a `TypeError`, one out of range a
 * `RangeError`, each naming the option; `Infinity` is taken where it means no bound
 * (`batchBytesMax`, `pendingSendsMax`), elsewhere refused saying what to give instead.
 */
export function checkProducerOptions(options: ProducerOptions): CheckedProducerOptions {
  const batchSize = checkInteger("batchSize", options.batchSize ?? 16, 1, batchEntriesMax, {
    instead: `the API takes ${batchEntriesMax} messages a request at most`,
  });
  const batchBytesMax = checkInteger(
    "batchBytesMax",
    options.batchBytesMax ?? 1 << 20,
    1,
    Infinity,
    {
      unbounded: "no bound but the broker's 4 MiB a request",
    },
  );
  const lingerMs = checkMs("lingerMs", options.lingerMs ?? 2, 0, 60_000, {
    instead: "a lone send would wait for ever; give at most 60000, and call flush() or close() " +
      "to send what waits at once",
  });
  const pendingSendsMax = checkInteger(
    "pendingSendsMax",
    options.pendingSendsMax ?? 1024,
    1,
    Infinity,
    { unbounded: "no bound (send never waits)" },
  );
  const inflightBatchesMax = checkInteger(
    "inflightBatchesMax",
    options.inflightBatchesMax ?? 4,
    1,
    1024,
    { instead: "give at most 1024 (pendingSendsMax bounds the sends on the way)" },
  );
  return { batchSize, batchBytesMax, lingerMs, pendingSendsMax, inflightBatchesMax };
}
