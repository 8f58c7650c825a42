/**
 * The binary snapshot of a `StateMachine` (Raft snapshots, fast restarts). Little-endian:
 *
 * ```
 * "CMQS" (4 bytes), u8 version (1 to 4), f64 appliedIndex, f64 lastTimestamp, u32 queueCount,
 * per queue (creation order): u16 len + name, f64 incarnation, u32 salt,
 *   u32 len + attributes JSON, f64 createdAt, f64 modifiedAt, version 3 and later: f64 rewindFloor,
 *   version 4: the barred runs (`RunSet.write`), then the queue state
 *   (`QueueStore.writeState`: runs, deleted runs, tracked messages, moved-in ids, dedup window,
 *   counters, FIFO groups and columns)
 * u32 memberCount, per member: u16 len + id, u16 len + peerAddress, u16 len + clientUrl
 * version 2 and later: the topics (`TopicStore.write`: topics, subscriptions, pending HTTP pushes)
 * ```
 *
 * Version 2 (topics) appends the topics section and changes nothing before it; a version 1
 * snapshot, written before topics existed, still loads (with no topics). Version 3 adds each
 * queue's rewind floor (`RewindBounds.floor`); it is written only when some queue's floor
 * is above its lowest retained message (else the floor is moot, and version 2 is written, byte
 * for byte as before), so that a release which does not know floors refuses a snapshot where
 * one matters instead of loading it without. Version 4 adds each queue's messages barred from
 * rewinds (`RewindBounds.barred`), written only when some queue has one (else version 3 or 2,
 * as before), for the same reason.
 *
 * Derived indexes (release heap, ready sets, FIFO heads and ready groups) are rebuilt on
 * restore, never stored. The snapshot carries no checksum: whoever stores or ships it (storage,
 * the Raft transport) checksums its own frames.
 *
 * @module
 */
import { ByteReader, ByteWriter, DecodeError } from "./binary.ts";
import { QueueState } from "./queue.ts";
import { checkAttributesInput, resolveCreate } from "./queue_attributes.ts";
import { TopicStore } from "./topics.ts";
import { RunSet } from "./run_set.ts";
import { cmqdRelease, NewerReleaseError } from "./release.ts";

const magic = [0x43, 0x4d, 0x51, 0x53]; // "CMQS"
/** The highest written (when a queue has barred messages), 3 when a rewind floor matters, else 2. */
const snapshotVersion = 4;
const withFloorsVersion = 3;
const withoutFloorsVersion = 2;

/** What a snapshot holds. */
export interface SnapshotParts {
  appliedIndex: number;
  lastTimestamp: number;
  queues: QueueState[];
  /** Cluster members' addresses (replicated so every node, and every snapshot, knows them). */
  members: MemberAddress[];
  /** The topics, their subscriptions and pending pushes (empty in a version 1 snapshot). */
  topics: TopicStore;
}

/** Where a cluster member listens, as recorded by a `SetMember` command. */
export interface MemberAddress {
  id: string;
  /** `host:port` of its peer (Raft) listener. */
  peerAddress: string;
  /** Base URL of its client API. */
  clientUrl: string;
}

/**
 * Serializes the parts of a state machine.
 *
 * @example
 * ```ts
 * const bytes = machine.snapshot(); // calls writeSnapshot
 * const copy = StateMachine.restore(bytes); // calls readSnapshot
 * ```
 */
export function writeSnapshot(parts: SnapshotParts): Uint8Array {
  const writer = new ByteWriter(4096);
  for (const byte of magic) writer.u8(byte);
  const floors = parts.queues.map(({ rewindBounds: { floor }, low }) => floor > low ? floor : 0);
  const barring = parts.queues.some((queue) => queue.rewindBounds.barred.size > 0);
  const flooring = floors.some((floor) => floor > 0);
  const version = barring ? snapshotVersion : flooring ? withFloorsVersion : withoutFloorsVersion;
  writer.u8(version);
  writer.f64(parts.appliedIndex);
  writer.f64(parts.lastTimestamp);
  writer.u32(parts.queues.length);
  parts.queues.forEach((queue, position) => {
    const meta = queue.meta;
    writer.string16(meta.name);
    writer.f64(meta.incarnation);
    writer.u32(meta.salt);
    writer.string32(JSON.stringify(meta.attributes));
    writer.f64(meta.createdAt);
    writer.f64(meta.modifiedAt);
    if (version >= withFloorsVersion) writer.f64(floors[position]);
    if (version >= snapshotVersion) queue.rewindBounds.barred.write(writer);
    queue.writeState(writer);
  });
  writer.u32(parts.members.length);
  for (const member of parts.members) {
    writer.string16(member.id);
    writer.string16(member.peerAddress);
    writer.string16(member.clientUrl);
  }
  parts.topics.write(writer);
  return writer.finish();
}

/** The highest version of the snapshots this release writes (it reads 1 to it). */
export const stateSnapshotVersion = snapshotVersion;

function newerSnapshotError(version: number): NewerReleaseError {
  return new NewerReleaseError(
    `state snapshot version ${version}, which this release (cmqd ${cmqdRelease}, versions 1 ` +
      `to ${snapshotVersion}) does not know: a newer release wrote it; upgrade this node`,
  );
}

/**
 * Throws `NewerReleaseError` when `bytes` start like a snapshot of a version newer than this
 * release reads (only the first 5 bytes are read); anything else is `readSnapshot`'s to judge.
 */
export function refuseNewerSnapshot(bytes: Uint8Array): void {
  if (bytes.length < 5 || magic.some((byte, at) => bytes[at] !== byte)) return;
  if (bytes[4] > snapshotVersion) throw newerSnapshotError(bytes[4]);
}

/**
 * Parses a snapshot; throws `DecodeError` when it is not one, `NewerReleaseError` when a newer
 * release wrote it.
 */
export function readSnapshot(bytes: Uint8Array): SnapshotParts {
  const reader = new ByteReader(bytes);
  for (const byte of magic) {
    if (reader.u8() !== byte) throw new DecodeError("not a cmqd snapshot");
  }
  const version = reader.u8();
  if (version > snapshotVersion) throw newerSnapshotError(version);
  if (version < 1) {
    throw new DecodeError(`unknown snapshot version ${version}`);
  }
  const appliedIndex = reader.uint();
  const lastTimestamp = reader.uint();
  const count = reader.u32();
  const queues: QueueState[] = [];
  for (let index = 0; index < count; index++) {
    const name = reader.string16();
    const incarnation = reader.uint();
    const salt = reader.u32();
    let attributes;
    try {
      attributes = resolveCreate(checkAttributesInput(JSON.parse(reader.string32())));
    } catch {
      throw new DecodeError(`queue '${name}': bad attributes`);
    }
    const createdAt = reader.uint();
    const modifiedAt = reader.uint();
    const floor = version >= withFloorsVersion ? reader.uint() : 0;
    const barred = version >= snapshotVersion ? RunSet.read(reader) : new RunSet();
    const meta = { name, incarnation, salt, attributes, createdAt, modifiedAt };
    const queue = QueueState.read(meta, reader);
    queue.rewindBounds.floor = floor;
    queue.rewindBounds.barred = barred;
    queues.push(queue);
  }
  const members: MemberAddress[] = [];
  const memberCount = reader.u32();
  for (let index = 0; index < memberCount; index++) {
    members.push({
      id: reader.string16(),
      peerAddress: reader.string16(),
      clientUrl: reader.string16(),
    });
  }
  const topics = version === 1 ? new TopicStore() : TopicStore.read(reader);
  reader.end();
  return { appliedIndex, lastTimestamp, queues, members, topics };
}
