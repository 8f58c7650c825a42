/**
 * Storage: the append-only segment log that is each node's Raft log, Raft's hard state, atomic
 * snapshot files, and the file systems they run on (real, or simulated with crash faults).
 *
 * @example
 * ```ts
 * import { RealFileSystem, SegmentLog } from "./mod.ts";
 * const log = await SegmentLog.open("data/group-1", { fs: new RealFileSystem() });
 * await log.appendDurable([{ term: 1, index: log.lastIndex + 1, timestamp: Date.now(), type: 0, payload }]);
 * ```
 *
 * @module
 */
export { crc32c } from "./crc32c.ts";
export { invariant } from "./invariant.ts";
export { type CorruptionDetail, CorruptLogError, NewerFormatError } from "./errors.ts";
export { refuseNewerFormats } from "./format_check.ts";
export {
  type FileHandle,
  type FileSystem,
  joinPath,
  makeDurableDir,
  type MappedRegion,
  RealFileSystem,
} from "./file_io.ts";
export { ForwardingFileHandle, ForwardingFileSystem } from "./forwarding_file_system.ts";
export {
  claimDataDir,
  type DataDirLock,
  DataDirLockedError,
  DataDirOwnerError,
  DataDirUnusableError,
  lockDataDir,
  lockFileName,
  nodeIdFileName,
} from "./dir_lock.ts";
export { freeDiskBytes, freeSpaceAvailable } from "./free_space.ts";
export { mmapAvailable, trimAllocator } from "./mmap.ts";
export type { DamageRecord, HardState, LogStart } from "./hard_state.ts";
export { hardStateFileName, loadHardState } from "./hard_state.ts";
export {
  decodeRecord,
  encodeRecord,
  encodeRecordInto,
  inspectRecord,
  type LogEntry,
  newRecordHeader,
  payloadBytesMax,
  recordBytes,
  recordBytesMax,
  type RecordHeader,
  recordHeaderBytes,
  type RecordStatus,
} from "./record.ts";
export type { RecoveryReport } from "./recovery.ts";
export { segmentIndexFormatVersion } from "./segment_index_file.ts";
export { LogScrubber, scrubReadBytesMax, type ScrubStep } from "./log_scrubber.ts";
export { SegmentLog, type SegmentLogOptions, type SegmentLogStats } from "./segment_log.ts";
export {
  seededRandom,
  SimFileSystem,
  type SimFileSystemStats,
  SimulatedCrash,
  SimulatedIoError,
} from "./sim_file_system.ts";
export {
  checkSnapshotFile,
  inspectSnapshotFile,
  readSnapshotFile,
  readSnapshotFileRange,
  snapshotFileFormatVersion,
  snapshotFilePieceBytes,
  type SnapshotFileState,
  type SnapshotPayloadSource,
  verifySnapshotFile,
  writeSnapshotFile,
  writeSnapshotFileFrom,
} from "./snapshot_file.ts";
