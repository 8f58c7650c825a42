/**
 * The background scrub of a replica's log (see `storage/log_scrubber.ts`): after the node is
 * up, the sealed segments that the open trusted by their persisted index are read and checked at
 * a bounded rate, pausing while the event loop is late (the node is busy serving).
 *
 * Damage found is recorded by the log durably (a damage record that is not a torn write, and the
 * segment's index removed) before `onDamage` hears of it. The owner must then end the process:
 * the restart scans the segment, cuts the log at the damage and distrusts it — the replica
 * neither votes nor campaigns until a leader of a newer term has repaired it (`recovery.ts`).
 * Repairing a running replica in place would mean cutting entries under the Raft core, which
 * assumes its log only changes through it.
 *
 * @module
 */
import type { LogScrubber } from "../../storage/mod.ts";
import type { ClockLike, Timers } from "./types.ts";

/** Options of a {@link ScrubLoop}. */
export interface ScrubLoopOptions {
  scrubber: LogScrubber;
  timers: Timers;
  /** A monotonic clock in milliseconds. */
  monotonic: ClockLike;
  /** Bytes read per second at most; 0 turns the scrub off. */
  bytesPerSecond: number;
  /**
   * Called once with the damage (already recorded durably), its message all an operator needs
   * (what, the entry, file and offset, what the restart does); the owner reports it, once, and
   * ends the process.
   */
  onDamage: (error: Error) => void;
  /** Where the loop tells its progress: its start, and the end with no damage found. */
  report: (message: string) => void;
  /** Milliseconds between steps. 100. */
  stepMs?: number;
  /** A step that fires later than this behind schedule is skipped (the node is busy). 50. */
  lateMsMax?: number;
  /** Milliseconds before the first step (let the node finish starting). 1000. */
  startDelayMs?: number;
}

/** Paces a {@link LogScrubber}; see the module comment. */
export class ScrubLoop {
  readonly #options: ScrubLoopOptions;
  readonly #stepMs: number;
  #timer: unknown = null;
  #dueAt = 0;
  #stopped = false;
  #bytes = 0;
  #pausedSteps = 0;

  constructor(options: ScrubLoopOptions) {
    this.#options = options;
    this.#stepMs = options.stepMs ?? 100;
    if (!(options.bytesPerSecond >= 0)) throw new RangeError("bytesPerSecond must be ≥ 0");
  }

  /** Bytes checked so far, and steps skipped because the node was busy. */
  get stats(): { bytes: number; pausedSteps: number } {
    return { bytes: this.#bytes, pausedSteps: this.#pausedSteps };
  }

  /** Starts the scrub (nothing when the rate is 0 or nothing is left to read). */
  start(): void {
    const { scrubber, bytesPerSecond, report } = this.#options;
    if (bytesPerSecond === 0 || scrubber.remainingSegments === 0) return;
    report(
      `scrub: reading ${scrubber.remainingSegments} segments trusted by their index at ` +
        `${Math.round(bytesPerSecond / 1024 / 1024)} MiB/s`,
    );
    this.#schedule(this.#options.startDelayMs ?? 1000);
  }

  /** Stops after the step in flight, if any. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) this.#options.timers.clearTimer(this.#timer);
    this.#timer = null;
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#dueAt = this.#options.monotonic.now() + delayMs;
    this.#timer = this.#options.timers.setTimer(delayMs, () => void this.#tick());
  }

  async #tick(): Promise<void> {
    this.#timer = null;
    if (this.#stopped) return;
    const late = this.#options.monotonic.now() - this.#dueAt;
    if (late > (this.#options.lateMsMax ?? 50)) {
      this.#pausedSteps++;
      this.#schedule(this.#stepMs);
      return;
    }
    const { scrubber, report, onDamage } = this.#options;
    let budget = Math.max(1, Math.floor((this.#options.bytesPerSecond * this.#stepMs) / 1000));
    try {
      while (budget > 0 && !this.#stopped) {
        const step = await scrubber.step(budget);
        this.#bytes += step.bytes;
        budget -= Math.max(step.bytes, 1);
        if (step.damage !== null) {
          const detail = step.damage;
          // The recorded reason says "scrub: ..." (the damage record's own); not twice here.
          const reason = detail.reason.replace(/^scrub: /, "");
          const message = `scrub found damage: ${reason} at entry ${detail.index} ` +
            `(${detail.file}@${detail.offset}); recorded, the restart cuts the log there and ` +
            "distrusts it until a leader repairs it";
          this.#stopped = true;
          onDamage(new Error(message));
          return;
        }
        if (step.done) {
          report(`scrub: ${scrubber.verifiedSegments} segments verified, no damage`);
          this.#stopped = true;
          return;
        }
      }
    } catch (error) {
      this.#stopped = true;
      onDamage(new Error(`scrub failed: ${(error as Error).message}`));
      return;
    }
    this.#schedule(this.#stepMs);
  }
}
