/**
 * Empty containers shared by every queue until it stores its first item, so an idle queue holds
 * no empty Map or array of its own (each cost 32–185 bytes of heap; an idle queue held eight).
 * `own…` swaps in a container of the caller's own before a write. The shared ones can't be
 * written by mistake: the array is frozen (a write throws) and the map's `set` fails.
 *
 * @module
 */
import { invariant } from "./invariant.ts";

class SharedEmptyMap extends Map<unknown, unknown> {
  override set(): this {
    invariant(false, "the shared empty map is never written: take a map of your own");
  }
}

const sharedMap: Map<unknown, unknown> = new SharedEmptyMap();
const sharedArray: readonly unknown[] = Object.freeze([]);

/** The shared empty map (read-only in practice: see `ownMap`). */
export function emptyMap<K, V>(): Map<K, V> {
  return sharedMap as Map<K, V>;
}

/** `map`, or a new map of the caller's own in place of the shared empty one. */
export function ownMap<K, V>(map: Map<K, V>): Map<K, V> {
  return map === (sharedMap as Map<K, V>) ? new Map() : map;
}

/** The shared empty array (frozen: see `ownArray`). */
export function emptyArray<T>(): T[] {
  return sharedArray as T[];
}

/** `array`, or a new array of the caller's own in place of the shared empty one. */
export function ownArray<T>(array: T[]): T[] {
  return array === (sharedArray as T[]) ? [] : array;
}
