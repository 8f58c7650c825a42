/**
 * The state machine's queues by name: a `Map` (creation order, which housekeeping and snapshots
 * keep) that also keeps its names sorted as they are set and deleted, so a listing (the API's
 * pages, each `/metrics` scrape) reads a slice of them instead of sorting every name again.
 *
 * @module
 */

/** A map by name that keeps its names in sorted order (UTF-16 code units, as `sort()` does). */
export class QueueTable<V> extends Map<string, V> {
  #names: string[] = [];

  override set(name: string, value: V): this {
    if (!this.has(name)) this.#names.splice(lowerBound(this.#names, name), 0, name);
    return super.set(name, value);
  }

  override delete(name: string): boolean {
    if (!super.delete(name)) return false;
    this.#names.splice(lowerBound(this.#names, name), 1);
    return true;
  }

  override clear(): void {
    super.clear();
    this.#names = [];
  }

  /**
   * The names starting with `prefix` in sorted order, from the `offset`th, at most `limit` of
   * them, and how many there are in all: a binary search and a slice, no sort. With `after`, only
   * the names that sort after it count (`total` included), so a listing that goes on from the last
   * name it read skips none when names before it are deleted meanwhile.
   */
  page(
    prefix: string,
    offset: number,
    limit: number,
    after?: string,
  ): { total: number; names: string[] } {
    const names = this.#names;
    let start = lowerBound(names, prefix);
    // The names with the prefix are the run from `start` on; the first past it is the end.
    let low = start;
    let high = names.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (names[middle].startsWith(prefix)) low = middle + 1;
      else high = middle;
    }
    if (after !== undefined) {
      const next = lowerBound(names, after);
      start = Math.min(low, Math.max(start, names[next] === after ? next + 1 : next));
    }
    const from = start + Math.min(offset, low - start);
    return { total: low - start, names: names.slice(from, Math.min(low, from + limit)) };
  }
}

/** The index of the first of the sorted `names` not less than `name`. */
function lowerBound(names: readonly string[], name: string): number {
  let low = 0;
  let high = names.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (names[middle] < name) low = middle + 1;
    else high = middle;
  }
  return low;
}
