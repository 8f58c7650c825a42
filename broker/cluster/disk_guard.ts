/**
 * The free-space guard (RabbitMQ's disk alarm is the model): below `minFreeBytes` free on the
 * data directory's file system, sends are refused with 507 `InsufficientStorage` while
 * receives, deletes and queue deletes go on, drawing on the space left (the reserve), so
 * consumers can drain. Sends resume by themselves once the space is back.
 *
 * Free space is read once per `pollMs` (one `statvfs`, off the request path), so the threshold
 * must be larger than what the node writes in that time plus a snapshot — hence the generous
 * default. The guard admits on the node that serves the send, the leader: every replica writes
 * the same log, so a leader whose disk has room usually speaks for its followers too. A follower
 * whose disk fills anyway fails its write and ends its process (never a silent gap: see the
 * damage record); the other voters carry on. Give the nodes of a group disks of the same size.
 *
 * @module
 */
import { BrokerError } from "../engine/mod.ts";
import type { Timers } from "../replication/mod.ts";

/** Options of a `DiskGuard`. */
export interface DiskGuardOptions {
  /** The directory whose file system is watched (the data directory). */
  path: string;
  /** Sends are refused while fewer bytes than this are free; 0 turns the guard off. */
  minFreeBytes: number;
  /** Reads free bytes (`freeDiskBytes` in production). */
  freeBytes: (path: string) => number;
  timers: Timers;
  /** How often free space is read. 1000. */
  pollMs?: number;
  /** Where the guard tells that it trips or clears. */
  report: (message: string) => void;
}

const mebibyte = 1024 * 1024;

/** Watches free disk space and answers whether data may be added. */
export class DiskGuard {
  readonly #options: DiskGuardOptions;
  #freeBytes = Infinity;
  #low = false;
  /** Why free space could not be read at the last poll (reported once, not every poll). */
  #unreadable: string | null = null;
  #timer: unknown = null;
  #stopped = false;

  constructor(options: DiskGuardOptions) {
    this.#options = options;
    if (options.minFreeBytes > 0) this.#poll();
  }

  /** True while free space is below the threshold. */
  get low(): boolean {
    return this.#low;
  }

  /** Free bytes at the last reading (Infinity before any, or when off). */
  get freeBytes(): number {
    return this.#freeBytes;
  }

  /** Null when sends may go ahead, else the 507 to answer them with. */
  refusal(): BrokerError | null {
    if (!this.#low) return null;
    return new BrokerError(
      "InsufficientStorage",
      `free disk ${Math.floor(this.#freeBytes / mebibyte)} MiB is below --min-free-disk-mb ` +
        `${Math.floor(this.#options.minFreeBytes / mebibyte)}: sends are refused until space ` +
        "is freed (receives and deletes still work)",
    );
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) this.#options.timers.clearTimer(this.#timer);
  }

  #poll(): void {
    if (this.#stopped) return;
    const { path, minFreeBytes, report } = this.#options;
    try {
      this.#freeBytes = this.#options.freeBytes(path);
      if (this.#unreadable !== null) report(`disk guard: free space of ${path} readable again`);
      this.#unreadable = null;
      const low = this.#freeBytes < minFreeBytes;
      if (low !== this.#low) {
        const free = `${Math.floor(this.#freeBytes / mebibyte)} MiB free on ${path}`;
        report(
          low
            ? `disk alarm: ${free}, below ${minFreeBytes / mebibyte} MiB: refusing sends (507)`
            : `disk alarm cleared: ${free}: accepting sends again`,
        );
      }
      this.#low = low;
    } catch (error) {
      // Unreadable free space keeps the last verdict rather than guessing either way; said once
      // (and again if the reason changes), not every second for as long as it lasts.
      const why = (error as Error).message;
      if (why !== this.#unreadable) {
        report(`disk guard: cannot read free space of ${path}: ${why} (keeping the last verdict)`);
      }
      this.#unreadable = why;
    }
    this.#timer = this.#options.timers.setTimer(this.#options.pollMs ?? 1000, () => this.#poll());
  }
}
