/**
 * Which client URL a member is reached at: followers forward their clients' requests there (with
 * the clients' credentials), `x-cmqd-leader` names it and `GET /v1/cluster` shows it.
 *
 * The URL the member announced itself in its peer hello, proved with the cluster key, wins over
 * the one recorded for it in the replicated membership: a record can name another URL than the
 * node serves (a join through the API naming another one, a member restarted on another client
 * port or host without being removed and joined again), and whatever listens there — another
 * process, another host that took the address — would get every forwarded request. The record
 * serves until the member's hello arrives (a member that never connected to this node). A
 * mismatch is logged once for each member and pair of URLs; pushes are refused to both (a
 * subscription at either must not loop through the cluster).
 *
 * @module
 */

/** Where `MemberUrls` reads a member's URLs. */
export interface MemberUrlSources {
  /** This node's id: its own URL is `url`. */
  nodeId: string;
  url: string;
  /** The URL the replicated membership records for `id`, or null. */
  recorded(id: string): string | null;
  /** The URL `id` announced in its authenticated peer hello, or null before one arrived. */
  announced(id: string): string | null;
  warn(message: string): void;
}

/**
 * A member's client URL, as this node uses it.
 *
 * @example
 * ```ts
 * const urls = new MemberUrls({ nodeId, url, recorded, announced, warn });
 * const leader = urls.of(replica.leaderId!);
 * ```
 */
export class MemberUrls {
  readonly #sources: MemberUrlSources;
  /** Mismatches already logged: `id recorded announced`. */
  readonly #warned = new Set<string>();
  /** `ofMembers`' last answer: for the applied index and announced URLs it was made at. */
  #members: { at: number; ids: string[]; announced: string; urls: string[] } | undefined;

  constructor(sources: MemberUrlSources) {
    this.#sources = sources;
  }

  /** The URL `id` is reached at (its announced one first), or null when none is known. */
  of(id: string): string | null {
    const sources = this.#sources;
    if (id === sources.nodeId) return sources.url;
    const announced = sources.announced(id);
    const recorded = sources.recorded(id);
    if (announced !== null && recorded !== null && announced !== recorded) {
      this.#mismatch(id, recorded, announced);
    }
    return announced ?? recorded;
  }

  /** Every URL `id` is known by: the one it is reached at and, when another, its recorded one. */
  all(id: string): string[] {
    const url = this.of(id);
    const recorded = id === this.#sources.nodeId ? null : this.#sources.recorded(id);
    return [url, recorded].filter((each, i, list): each is string =>
      each !== null && list.indexOf(each) === i
    );
  }

  /**
   * Every URL of the members (`all` of each): `ids` is called again only when the applied index
   * `at` moved (records change only through applied entries), the URLs again only then or when
   * an announced one changed.
   */
  ofMembers(at: number, ids: () => string[]): string[] {
    if (this.#members?.at !== at) {
      this.#members = { at, ids: ids(), announced: "", urls: [] };
    }
    const members = this.#members;
    const announced = members.ids.map((id) => this.#sources.announced(id)).join(" ");
    if (members.urls.length === 0 || members.announced !== announced) {
      members.urls = members.ids.flatMap((id) => this.all(id));
      members.announced = announced;
    }
    return members.urls;
  }

  #mismatch(id: string, recorded: string, announced: string): void {
    const key = `${id} ${recorded} ${announced}`;
    if (this.#warned.has(key)) return;
    this.#warned.add(key);
    this.#sources.warn(
      `cmqd ${this.#sources.nodeId}: WARNING: member ${id} is recorded at client URL ` +
        `${recorded} but announces ${announced} (proved with the cluster key): requests are ` +
        `forwarded to ${announced}, and x-cmqd-leader and /v1/cluster name it; to change the ` +
        `record, remove ${id} and join it again`,
    );
  }
}
