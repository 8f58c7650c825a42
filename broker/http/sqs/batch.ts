/**
 * The batch rules every SQS batch operation shares: 1–10 entries, ids of 1–80 letters, digits,
 * `-` or `_`, distinct within the request; and the `Failed` entry of a result.
 *
 * @module
 */
import { SqsError } from "./errors.ts";
import {
  isJsonObject,
  type JsonObject,
  objectEntry,
  optionalInteger,
  optionalList,
  optionalMap,
  optionalString,
  requiredString,
} from "./input.ts";

/** SQS's entries per batch request. */
export const batchEntriesMax = 10;

const entryIdPattern = /^[A-Za-z0-9_-]{1,80}$/;

/** One entry of a batch request with its id. */
export interface BatchEntry {
  id: string;
  entry: JsonObject;
}

/** The `Failed` entry of a batch result. */
export interface FailedEntry {
  Id: string;
  SenderFault: boolean;
  Code: string;
  Message: string;
}

/**
 * The JSON type of each member of a batch entry that the door reads, as the operation's readers
 * refuse a wrong one (`SerializationException`): a string, an integer, a map, or a map whose
 * values are maps (MessageAttributes; their members' values are checked as values).
 */
export type EntryTypes = Record<string, "string" | "integer" | "map" | "map of maps">;

const anyInteger = { min: -Infinity, max: Infinity };

/** Throws `SerializationException` for the first member of `entry` not of its type in `types`. */
function checkEntryTypes(entry: JsonObject, types: EntryTypes): void {
  for (const [member, type] of Object.entries(types)) {
    if (type === "string") optionalString(entry, member);
    else if (type === "integer") optionalInteger(entry, member, anyInteger);
    else {
      const map = optionalMap(entry, member);
      if (type === "map" || map === undefined) continue;
      for (const [name, value] of Object.entries(map)) {
        if (!isJsonObject(value)) {
          throw new SqsError("SerializationException", `${member}.${name}: expected a map`);
        }
      }
    }
  }
}

/**
 * Reads and checks the `Entries` of a batch request. The members' types first, in every entry
 * (`types`: the entry's members the operation reads): one of the wrong type is the request's
 * malformation and refuses it whole, whatever else the entry holds, before any entry's values
 * are looked at (a value the operation refuses fails only its entry, see `entryError`).
 */
export function batchEntries(
  input: JsonObject,
  entryKind: string,
  types: EntryTypes,
): BatchEntry[] {
  const list = optionalList(input, "Entries") ?? [];
  if (list.length === 0) {
    throw new SqsError(
      "EmptyBatchRequest",
      `There should be at least one ${entryKind} in the request.`,
    );
  }
  if (list.length > batchEntriesMax) {
    throw new SqsError(
      "TooManyEntriesInBatchRequest",
      `Maximum number of entries per request are ${batchEntriesMax}. You have sent ${list.length}.`,
    );
  }
  const entries = list.map((value, index) => {
    const entry = objectEntry(value, `Entries.${index}`);
    checkEntryTypes(entry, { Id: "string", ...types });
    return entry;
  });
  const seen = new Set<string>();
  return entries.map((entry) => {
    const id = requiredString(entry, "Id");
    if (!entryIdPattern.test(id)) {
      throw new SqsError(
        "InvalidBatchEntryId",
        "A batch entry id can only contain alphanumeric characters, hyphens and underscores. " +
          "It can be at most 80 letters long.",
      );
    }
    if (seen.has(id)) throw new SqsError("BatchEntryIdsNotDistinct", `Id ${id} repeated.`);
    seen.add(id);
    return { id, entry };
  });
}

/**
 * What one entry's check threw, as that entry's failure, or thrown on for the whole request: a
 * member of the wrong JSON type (`SerializationException`) is the request's malformation (the
 * protocol could not read the request, so SQS answers it before looking at any entry), as every
 * batch operation refuses it; anything not an `SqsError` is a bug.
 */
export function entryError(error: unknown): SqsError {
  if (!(error instanceof SqsError) || error.code === "SerializationException") throw error;
  return error;
}

/** The `Failed` entry for `error` (its query-protocol code, as SQS's batch results carry). */
export function failedEntry(id: string, error: SqsError): FailedEntry {
  return { Id: id, SenderFault: error.senderFault, Code: error.queryCode, Message: error.message };
}
