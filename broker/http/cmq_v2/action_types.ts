/**
 * The shape of one CMQ action: the permission it needs and the translation it runs. The door
 * (`mod.ts`) parses, authenticates and authorizes; an action only reads its parameters, calls
 * the service and shapes CMQ's answer.
 *
 * @module
 */
import type { CmqParams } from "./params.ts";
import type { PermissionAction, QueueService } from "./deps.ts";

/** What an action runs with. */
export interface ActionContext {
  service: QueueService;
  params: CmqParams;
  /** The queue the action names (`queueName`), already checked; "" for account actions. */
  queueName: string;
  /** Aborted when the client goes away (ends a long poll). */
  signal: AbortSignal;
}

/** One CMQ action. */
export interface CmqAction {
  /**
   * `queue`: the action names one queue in `queueName`, and the key needs
   * `queue:<queueName>:<permission>`. `account`: it reads every queue (ListQueue), and the key
   * needs the permission on all of them (`queue:*:<permission>` or `*`).
   */
  scope: "queue" | "account";
  permission: PermissionAction;
  /** The members of a successful answer beside `code`, `message` and `requestId`. */
  run(context: ActionContext): Promise<Record<string, unknown>>;
}

/** Unix seconds of a cmqd time in milliseconds, as CMQ reports times. */
export function unixSeconds(milliseconds: number): number {
  return Math.floor(milliseconds / 1000);
}
