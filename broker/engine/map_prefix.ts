/**
 * Forgetting a prefix of a map keyed by sequence, at the cost of the smaller of the prefix and
 * the map.
 *
 * @module
 */

/**
 * Deletes the keys of `map` in `[low, newLow)` (none is below `low`), calling `removed` with each
 * deleted value. Walks the range when it is the smaller (acknowledgements in order drop a few at a
 * time while thousands are in flight), else the map (retention expiring a long stretch).
 */
export function deleteBelow<V>(
  map: Map<number, V>,
  low: number,
  newLow: number,
  removed?: (value: V) => void,
): void {
  if (newLow - low <= map.size) {
    for (let key = low; key < newLow; key++) {
      const value = map.get(key);
      if (value === undefined) continue;
      map.delete(key);
      removed?.(value);
    }
    return;
  }
  for (const [key, value] of map) {
    if (key >= newLow) continue;
    map.delete(key);
    removed?.(value);
  }
}
