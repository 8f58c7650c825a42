/**
 * Checks a received snapshot container's structure as its bytes stream in (`snapshot_sink.ts`),
 * so a transfer whose CRC matches but whose container could not be installed is refused before
 * Raft takes it, with nothing replaced: the CRC vouches only for the bytes, and the bytes come
 * from whoever holds the cluster key. Installing (`installReceivedSnapshot`) reads the same
 * structure and stops the replica at the first thing it can't use, after the snapshot file is
 * replaced and the log reset; this checks every such thing first.
 *
 * Checked (layout in `snapshot_container.ts`): the fixed part decodes and is the snapshot's own
 * (index, term, the configuration Raft adopts); the declared sizes add up to the container's
 * length exactly; the embedded entries follow each other by index, their terms and timestamps
 * never go back (timestamps finite, not negative), each fits a log record, and the last one is
 * the snapshot's entry. The machine image's bytes are not looked into here: the sink has the
 * applier check them (`Applier.checkSnapshot`) once they are all in.
 *
 * Only the fixed part (the config JSON is at most `configBytesMax`) and one entry header are
 * held at a time; payloads and the machine image are skipped as they pass.
 *
 * @module
 */
import { recordBytes, recordBytesMax } from "../../storage/mod.ts";
import type { ConfigState } from "../../raft/mod.ts";
import {
  containerEntryHeaderBytes,
  containerHeadFixedBytes,
  readContainerHead,
} from "./snapshot_container.ts";

/** Largest config JSON accepted (1,024 members of 255 characters, escaped, fit with room). */
export const configBytesMax = 4 * 1024 * 1024;

/** What the snapshot must be: what its chunks announced, and Raft will adopt. */
export interface ExpectedSnapshot {
  index: number;
  term: number;
  config: ConfigState;
}

type Phase = "head" | "machine" | "count" | "entryHeader" | "payload";

/**
 * Follows one container's bytes in order and records the first structural problem.
 *
 * @example
 * ```ts
 * const check = new ContainerCheck({ index, term, config }, containerBytes);
 * for (const piece of pieces) check.push(piece);
 * const problem = check.problem(); // null: installable
 * ```
 */
export class ContainerCheck {
  readonly #expected: ExpectedSnapshot;
  readonly #containerBytes: number;
  #problem: string | null = null;
  #phase: Phase = "head";
  /** Bytes the current phase still needs (gathered ones for head, count and entry headers). */
  #needed = containerHeadFixedBytes;
  #gathered: Uint8Array = new Uint8Array(containerHeadFixedBytes);
  #gatheredBytes = 0;
  /** Whether the head's config length was read (the head buffer is then its full size). */
  #headSized = false;
  #consumed = 0;
  #entryCount = 0;
  #entries = 0;
  #last: { index: number; term: number; timestamp: number } | null = null;
  #machine: { offset: number; bytes: number } | null = null;

  constructor(expected: ExpectedSnapshot, containerBytes: number) {
    this.#expected = expected;
    this.#containerBytes = containerBytes;
  }

  /** Where the machine image lies in the container, once the fixed part was read. */
  get machine(): { offset: number; bytes: number } | null {
    return this.#machine;
  }

  /** The next container bytes, in order. */
  push(bytes: Uint8Array): void {
    let at = 0;
    while (at < bytes.length && this.#problem === null) {
      const take = Math.min(this.#needed, bytes.length - at);
      if (this.#phase === "machine" || this.#phase === "payload") {
        this.#needed -= take;
      } else {
        this.#gathered.set(bytes.subarray(at, at + take), this.#gatheredBytes);
        this.#gatheredBytes += take;
        this.#needed -= take;
      }
      at += take;
      this.#consumed += take;
      if (this.#needed === 0) this.#advance();
    }
    if (this.#problem === null && this.#consumed > this.#containerBytes) {
      this.#problem = `more than the ${this.#containerBytes} container bytes announced`;
    }
  }

  /** Why the container pushed so far is not an installable whole one, or null when it is. */
  problem(): string | null {
    if (this.#problem !== null) return this.#problem;
    if (this.#consumed !== this.#containerBytes) {
      return `${this.#consumed} container bytes, ${this.#containerBytes} announced`;
    }
    const between = this.#phase === "entryHeader" && this.#gatheredBytes === 0;
    if (!between || this.#entries !== this.#entryCount) {
      return `the container ends inside its ${
        this.#phase === "head" ? "fixed part" : this.#phase
      } (${this.#entries} of ${this.#entryCount} entries)`;
    }
    const last = this.#last;
    const { index, term } = this.#expected;
    if (last !== null && (last.index !== index || last.term !== term)) {
      return `embedded entries end at index ${last.index} term ${last.term}, not the ` +
        `snapshot's ${index} term ${term}`;
    }
    return null;
  }

  /** The current phase has all its bytes: interprets them and moves on. */
  #advance(): void {
    switch (this.#phase) {
      case "head":
        return this.#head();
      case "machine":
        return this.#gather("count", 4);
      case "count":
        this.#entryCount = view(this.#gathered).getUint32(0, true);
        return this.#gather("entryHeader", containerEntryHeaderBytes);
      case "entryHeader":
        return this.#entryHeader();
      case "payload":
        return this.#gather("entryHeader", containerEntryHeaderBytes);
    }
  }

  #gather(phase: Phase, bytes: number): void {
    this.#phase = phase;
    this.#needed = bytes;
    this.#gatheredBytes = 0;
    if (this.#gathered.length < bytes) this.#gathered = new Uint8Array(bytes);
  }

  #head(): void {
    if (!this.#headSized) {
      const configBytes = view(this.#gathered).getUint32(containerHeadFixedBytes - 4, true);
      if (configBytes > configBytesMax || configBytes + 16 > this.#containerBytes) {
        this.#problem = `a config of ${configBytes} bytes`;
        return;
      }
      const head = new Uint8Array(containerHeadFixedBytes + configBytes + 16);
      head.set(this.#gathered);
      this.#gathered = head;
      this.#headSized = true;
      this.#needed = configBytes + 16;
      return;
    }
    let head: ReturnType<typeof readContainerHead>;
    try {
      const bytes = this.#gathered;
      head = readContainerHead((offset, length) => bytes.subarray(offset, offset + length));
    } catch (error) {
      this.#problem = `its fixed part: ${(error as Error).message}`;
      return;
    }
    const { index, term, config } = this.#expected;
    if (head.index !== index || head.term !== term) {
      this.#problem = `the container is of index ${head.index} term ${head.term}, its chunks ` +
        `announced ${index} term ${term}`;
    } else if (!sameConfig(head.config, config)) {
      this.#problem = `the container's configuration ${JSON.stringify(head.config)} is not the ` +
        `one its chunks announced ${JSON.stringify(config)}`;
    } else if (head.entryCountOffset + 4 > this.#containerBytes) {
      this.#problem = `a machine image of ${head.machineBytes} bytes`;
    } else {
      this.#gathered = new Uint8Array(containerEntryHeaderBytes);
      this.#machine = { offset: head.machineOffset, bytes: head.machineBytes };
      this.#phase = "machine";
      this.#needed = head.machineBytes;
      if (this.#needed === 0) this.#advance();
    }
  }

  #entryHeader(): void {
    const header = view(this.#gathered);
    const term = header.getFloat64(0, true);
    const index = header.getFloat64(8, true);
    const timestamp = header.getFloat64(16, true);
    const length = header.getUint32(25, true);
    const last = this.#last;
    const n = this.#entries;
    if (n >= this.#entryCount) {
      this.#problem = `more than the ${this.#entryCount} entries announced`;
    } else if (!isCount(term) || !isCount(index) || index < 1) {
      this.#problem = `entry ${n} has index ${index} term ${term}`;
    } else if (last !== null && index !== last.index + 1) {
      this.#problem = `entry ${n} has index ${index}, expected ${last.index + 1}`;
    } else if (last !== null && term < last.term) {
      this.#problem = `entry ${n} has term ${term}, below ${last.term}`;
    } else if (!(Number.isFinite(timestamp) && timestamp >= (last?.timestamp ?? 0))) {
      this.#problem = `entry ${n} has timestamp ${timestamp}, before ${last?.timestamp ?? 0}`;
    } else if (recordBytes(length) > recordBytesMax) {
      this.#problem = `entry ${n} has ${length} bytes, more than a log record holds`;
    }
    if (this.#problem !== null) return;
    this.#entries++;
    this.#last = { index, term, timestamp };
    this.#phase = "payload";
    this.#needed = length;
    if (length === 0) this.#advance();
  }
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function isCount(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

function sameConfig(left: ConfigState, right: ConfigState): boolean {
  const same = (a: readonly string[], b: readonly string[]) => {
    const set = new Set(a);
    return set.size === a.length && a.length === b.length && new Set(b).size === b.length &&
      b.every((id) => set.has(id));
  };
  return same(left.voters, right.voters) && same(left.learners, right.learners);
}
