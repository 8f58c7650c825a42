/**
 * Message groups of a FIFO queue. Within a group, messages are delivered in send order and at
 * most one is in flight, so the only candidate of a group is its head (lowest undeleted
 * sequence), and only while nothing of the group is in flight and the head is visible.
 *
 * Per message this costs two u32 columns (8 bytes): the group number, and the distance to the
 * next message of the same group (a static link set at send, so advancing a head after a delete
 * is O(1) per skipped message of that group). Per group there is one small object, dropped
 * when its last retained message expires. The groups ready to deliver are kept sorted by head
 * sequence, so a receive takes the N oldest eligible heads without scanning the backlog.
 *
 * @module
 */
import type { ByteReader, ByteWriter } from "./binary.ts";
import { invariant } from "./invariant.ts";
import { SeqColumn } from "./seq_column.ts";
import { SortedNumbers } from "./sorted_numbers.ts";

/** The key of the queue-wide group (messages without groupId); real groupIds are non-empty. */
export const queueWideGroup = "";

interface Group {
  number: number;
  name: string;
  /** Lowest undeleted sequence, 0 when none. */
  head: number;
  /** Last sequence sent (or moved) to the group, for the link of the next one. */
  last: number;
  /** Undeleted messages. */
  count: number;
  /** Retained messages, deleted ones included (rewind may bring them back). */
  references: number;
  inflight: number;
  /** The head sequence it is listed under in `ready`, or 0. */
  readyKey: number;
}

/** How the groups see the rest of the queue. */
export interface FifoView {
  isDeleted(sequence: number): boolean;
  /** True when the message is delayed or locked right now (so it can't be a candidate). */
  isBlocked(sequence: number): boolean;
  isInflight(sequence: number): boolean;
  /** Called when the head or the count in flight of group `key` may have changed. */
  changed?(key: string): void;
}

/**
 * The group index of one FIFO queue.
 *
 * @example
 * ```ts
 * const groups = new FifoGroups(view);
 * groups.onAppend(1, "user-7");
 * groups.firstReady(); // 1
 * ```
 */
export class FifoGroups {
  #byName = new Map<string, Group>();
  #byNumber = new Map<number, Group>();
  #nextNumber = 1;
  #groupOf = new SeqColumn();
  #links = new SeqColumn();
  #ready = new SortedNumbers();
  readonly #view: FifoView;

  constructor(view: FifoView) {
    this.#view = view;
  }

  /** Groups with retained messages. */
  get groupCount(): number {
    return this.#byNumber.size;
  }

  #group(sequence: number): Group {
    const group = this.#byNumber.get(this.#groupOf.get(sequence));
    // (The message is formatted only on failure: this runs per message, 200,000 times in the
    // restore of 100,000 groups of two, where `assert.ok` formatting it each time cost 70 ms.)
    if (group === undefined) invariant(false, `sequence ${sequence} has no group`);
    return group;
  }

  /** The groupId of a message (`undefined` for the queue-wide group). */
  groupName(sequence: number): string | undefined {
    const name = this.#group(sequence).name;
    return name === queueWideGroup ? undefined : name;
  }

  /** The key of a message's group (`queueWideGroup` for the queue-wide one). */
  groupKey(sequence: number): string {
    return this.#group(sequence).name;
  }

  /** The head (lowest undeleted sequence) of the group `key`; 0 when it has none or is gone. */
  headOf(key: string): number {
    return this.#byName.get(key)?.head ?? 0;
  }

  /** How many messages of the group `key` are in flight (0 when it is gone). */
  inflightOf(key: string): number {
    return this.#byName.get(key)?.inflight ?? 0;
  }

  /** The next undeleted message of `sequence`'s group after it (0 when none). */
  nextOf(sequence: number, end: number): number {
    const group = this.#group(sequence);
    return this.#nextUndeleted(group, sequence, end, (next) => this.#view.isDeleted(next));
  }

  /** The keys of the groups whose head is below `limit`. */
  keysWithHeadBelow(limit: number): string[] {
    const keys: string[] = [];
    for (const group of this.#byNumber.values()) {
      if (group.head > 0 && group.head < limit) keys.push(group.name);
    }
    return keys;
  }

  /** The head sequence of the oldest eligible group at rank `index`, or undefined. */
  readyAt(index: number): number | undefined {
    return this.#ready.at(index);
  }

  /** The oldest eligible head, or undefined. */
  firstReady(): number | undefined {
    return this.#ready.at(0);
  }

  /** Eligible groups. */
  get readyCount(): number {
    return this.#ready.size;
  }

  #refresh(group: Group): void {
    this.#view.changed?.(group.name);
    const eligible = group.head > 0 && group.inflight === 0 && !this.#view.isBlocked(group.head);
    const key = eligible ? group.head : 0;
    if (key === group.readyKey) return;
    if (group.readyKey > 0) this.#ready.delete(group.readyKey);
    if (key > 0) this.#ready.add(key);
    group.readyKey = key;
  }

  /** Recomputes a message's group eligibility after its visibility changed. */
  refreshOf(sequence: number): void {
    this.#refresh(this.#group(sequence));
  }

  /** A new undeleted message at the end of the queue. */
  onAppend(sequence: number, name: string): void {
    let group = this.#byName.get(name);
    if (group === undefined) {
      group = {
        number: this.#nextNumber++,
        name,
        head: 0,
        last: 0,
        count: 0,
        references: 0,
        inflight: 0,
        readyKey: 0,
      };
      this.#byName.set(name, group);
      this.#byNumber.set(group.number, group);
    }
    this.#groupOf.set(sequence, group.number);
    if (group.last > 0) {
      const distance = sequence - group.last;
      this.#links.set(group.last, distance <= 0xffff_ffff ? distance : 0);
    }
    group.last = sequence;
    group.count++;
    group.references++;
    if (group.head === 0) group.head = sequence;
    this.#refresh(group);
  }

  /** The message was delivered (it is now in flight). */
  onDeliver(sequence: number): void {
    const group = this.#group(sequence);
    group.inflight++;
    this.#refresh(group);
  }

  /** A lock ended (expired or released by a visibility change of 0). */
  onLockEnd(sequence: number): void {
    const group = this.#group(sequence);
    group.inflight--;
    invariant(group.inflight >= 0, "a group's count in flight never goes negative");
    this.#refresh(group);
  }

  /** The message left the queue (deleted, moved, purged); `isDeleted` is already true for it. */
  onRemove(sequence: number, wasInflight: boolean, end: number): void {
    const group = this.#group(sequence);
    group.count--;
    if (wasInflight) group.inflight--;
    invariant(group.count >= 0 && group.inflight >= 0, "a group's counts never go negative");
    if (group.head === sequence) {
      group.head = this.#nextUndeleted(group, sequence, end, (next) => this.#view.isDeleted(next));
    }
    this.#refresh(group);
  }

  /** The next undeleted message of `group` after `from` (0 when none). */
  #nextUndeleted(group: Group, from: number, end: number, gone: (s: number) => boolean): number {
    if (group.count === 0) return 0;
    let sequence = from;
    for (;;) {
      // The group's last message links nowhere: nothing follows (no scan of the column).
      if (sequence >= group.last) return 0;
      const distance = this.#links.get(sequence);
      if (distance === 0) break;
      sequence += distance;
      if (!gone(sequence)) return sequence;
    }
    // A link overflowed (or the chain ends early): scan the column, which is rare.
    for (let next = from + 1; next < end; next++) {
      if (this.#groupOf.get(next) === group.number && !gone(next)) return next;
    }
    return 0;
  }

  /** Retained messages `[low, newLow)` expired: forget them. */
  dropPrefix(low: number, newLow: number, end: number): void {
    const touched = new Set<Group>();
    for (let sequence = low; sequence < newLow; sequence++) {
      const group = this.#group(sequence);
      group.references--;
      if (!this.#view.isDeleted(sequence)) {
        group.count--;
        if (this.#view.isInflight(sequence)) group.inflight--;
      }
      touched.add(group);
    }
    const gone = (sequence: number) => sequence < newLow || this.#view.isDeleted(sequence);
    for (const group of touched) {
      if (group.head > 0 && group.head < newLow) {
        group.head = this.#nextUndeleted(group, group.head, end, gone);
      }
      if (group.references === 0) {
        if (group.readyKey > 0) this.#ready.delete(group.readyKey);
        this.#view.changed?.(group.name);
        this.#byName.delete(group.name);
        this.#byNumber.delete(group.number);
      } else {
        this.#refresh(group);
      }
    }
    this.#groupOf.trimBelow(newLow);
    this.#links.trimBelow(newLow);
  }

  /** Every message was removed (purge): groups stay referenced by the deleted messages. */
  onPurge(): void {
    for (const group of this.#byNumber.values()) {
      group.head = 0;
      group.count = 0;
      group.inflight = 0;
      group.readyKey = 0;
      this.#view.changed?.(group.name);
    }
    this.#ready.clear();
  }

  /**
   * The messages of `ranges` came back (a rewind: each is undeleted now, and not tracked). Only
   * their groups change: count and head; retained messages and those in flight stay. The cost
   * follows the messages brought back, not the queue.
   */
  onRestored(ranges: Iterable<readonly [number, number]>): void {
    const touched = new Set<Group>();
    for (const [start, end] of ranges) {
      for (let sequence = start; sequence < end; sequence++) {
        const group = this.#group(sequence);
        group.count++;
        if (group.head === 0 || sequence < group.head) group.head = sequence;
        touched.add(group);
      }
    }
    for (const group of touched) this.#refresh(group);
  }

  /** Recomputes every group from the messages `[low, end)` (after a restore). */
  rebuild(low: number, end: number): void {
    for (const group of this.#byNumber.values()) {
      Object.assign(group, { head: 0, count: 0, references: 0, inflight: 0, readyKey: 0 });
    }
    this.#ready.clear();
    for (let sequence = low; sequence < end; sequence++) {
      const group = this.#group(sequence);
      group.references++;
      if (this.#view.isDeleted(sequence)) continue;
      group.count++;
      if (group.head === 0) group.head = sequence;
      if (this.#view.isInflight(sequence)) group.inflight++;
    }
    for (const group of [...this.#byNumber.values()]) {
      if (group.references === 0) {
        this.#view.changed?.(group.name);
        this.#byName.delete(group.name);
        this.#byNumber.delete(group.number);
      } else {
        this.#refresh(group);
      }
    }
  }

  /** Bytes of the columns plus an estimate per group. */
  memoryBytes(): number {
    return this.#groupOf.memoryBytes() + this.#links.memoryBytes() + this.#ready.memoryBytes() +
      this.#byNumber.size * 160;
  }

  /** Serializes groups and the columns of `[low, end)`; `rebuild` derives the rest. */
  write(writer: ByteWriter, low: number, end: number): void {
    writer.f64(this.#nextNumber);
    writer.u32(this.#byNumber.size);
    for (const group of this.#byNumber.values()) {
      writer.f64(group.number);
      writer.string16(group.name);
      writer.f64(group.last);
    }
    this.#groupOf.write(writer, low, end);
    this.#links.write(writer, low, end);
  }

  /** Inverse of `write` (call `rebuild` afterwards). */
  read(reader: ByteReader): void {
    this.#nextNumber = reader.uint();
    const count = reader.u32();
    for (let index = 0; index < count; index++) {
      const number = reader.uint();
      const name = reader.string16();
      const group: Group = {
        number,
        name,
        head: 0,
        last: reader.uint(),
        count: 0,
        references: 0,
        inflight: 0,
        readyKey: 0,
      };
      this.#byName.set(name, group);
      this.#byNumber.set(number, group);
    }
    this.#groupOf = SeqColumn.read(reader);
    this.#links = SeqColumn.read(reader);
  }
}
