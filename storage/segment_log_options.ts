/**
 * The options and counters of a `SegmentLog`, with the defaults of its tunables.
 *
 * @module
 */
import type { FileSystem } from "./file_io.ts";
import { invariant } from "./invariant.ts";

/** How to open a `SegmentLog`. */
export interface SegmentLogOptions {
  /** Real or simulated file system. */
  fs: FileSystem;
  /** Roll to a new segment when the next record would pass this size. Default 64 MiB. */
  segmentBytesMax?: number;
  /** Bytes of log between sparse index points. Default 4096. */
  indexIntervalBytes?: number;
  /** Read through memory maps when FFI allows. Default true; false forces positioned reads. */
  mmap?: boolean;
  /**
   * Segments mapped at once; the least recently read is unmapped past it. Default 8: pages read
   * through a map count in the process's RSS until it is unmapped, and a consumer works through
   * a backlog one segment after another, so a few maps cover the hot part of the log.
   */
  mappedSegmentsMax?: number;
  /**
   * The monotonic clock that times flush rounds, in ms (default `performance.now`). A simulation
   * passes its own, so a slow round (`sync_scheduler.ts`) is decided by simulated time.
   */
  now?: () => number;
}

/** Counters for metrics. */
export interface SegmentLogStats {
  segments: number;
  bytes: number;
  fsyncs: number;
  fsyncMsTotal: number;
  lastFsyncMs: number;
  /** True when reads go through memory maps. */
  mapped: boolean;
}

export const defaultSegmentBytesMax = 64 * 1024 * 1024;
export const defaultIndexIntervalBytes = 4096;
export const defaultMappedSegmentsMax = 8;

/** The tunables of `options` with their defaults, checked. */
export function segmentLogSizes(
  options: SegmentLogOptions,
): { segmentBytesMax: number; indexIntervalBytes: number; mappedSegmentsMax: number } {
  const segmentBytesMax = options.segmentBytesMax ?? defaultSegmentBytesMax;
  const indexIntervalBytes = options.indexIntervalBytes ?? defaultIndexIntervalBytes;
  const mappedSegmentsMax = options.mappedSegmentsMax ?? defaultMappedSegmentsMax;
  invariant(Number.isSafeInteger(segmentBytesMax) && segmentBytesMax > 0);
  invariant(segmentBytesMax <= 0xffffffff, "segments are addressed with u32 positions");
  invariant(Number.isSafeInteger(indexIntervalBytes) && indexIntervalBytes > 0);
  invariant(Number.isSafeInteger(mappedSegmentsMax) && mappedSegmentsMax > 0);
  return { segmentBytesMax, indexIntervalBytes, mappedSegmentsMax };
}
