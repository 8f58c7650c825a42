/**
 * What this node says once it knows it is no longer a member of its group (see `raft/removal.ts`
 * for how it learns it and why the verdict can be lifted): one log line when it starts (and one
 * when a re-addition lifts it), and the refusal every request gets meanwhile.
 *
 * @module
 */
import type { RaftNode, Removal } from "../../raft/mod.ts";
import { ReplicationError } from "./errors.ts";

/** The sentence every answer and the log line carry while `removal` holds. */
export function removedMessage(removal: Removal): string {
  const how = removal.by === null
    ? `by the configuration change at index ${removal.index}`
    : `(${removal.by}'s configuration committed at index ${removal.index} does not list it)`;
  return `this node was removed from the cluster ${how}; stop it, or join it again with --join ` +
    "on an empty data directory (it votes only once it holds what the cluster had committed)";
}

/** Follows a replica's removal verdict and logs its changes. */
export class RemovalWatch {
  readonly #warn: (line: string) => void;
  #removal: Removal | null = null;

  constructor(warn: (line: string) => void) {
    this.#warn = warn;
  }

  /** The verdict as of the last `check`. */
  get removal(): Removal | null {
    return this.#removal;
  }

  /** Reads the core's verdict after it may have changed; logs a change. */
  check(raft: RaftNode): void {
    const now = raft.removal();
    const before = this.#removal;
    if (now?.index === before?.index && now?.by === before?.by) return;
    this.#removal = now;
    if (now !== null && before === null) this.#warn(removedMessage(now));
    if (now === null) this.#warn("this node is a member of the cluster again");
  }

  /** The refusal of a request made while removed, or null. */
  refusal(): ReplicationError | null {
    const removal = this.#removal;
    return removal === null ? null : new ReplicationError("NodeRemoved", removedMessage(removal));
  }
}
