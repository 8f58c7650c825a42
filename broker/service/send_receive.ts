/**
 * A send that takes along the receives parked on its queue: one entry sends and runs them.
 *
 * @module
 */
import {
  BrokerError,
  type CommandResults,
  CommandType,
  encodeSendReceive,
  type SendCommandMessage,
} from "../engine/mod.ts";
import type { Proposer } from "../replication/mod.ts";
import { isReplicaRefusal, propose } from "./replica_errors.ts";
import type { Rider } from "./long_polls.ts";
import { fittingReceive } from "./validation.ts";
import type { SendMessagesResponse } from "../../sdk/protocol.ts";

/**
 * One entry sends `messages` to `name` and runs the receives of `riders`, long polls parked on
 * the queue, each cut to what one answer holds at the queue's `maxMessageBytes` now (a lock is only taken by a committed entry, and each rider answers after the
 * commit). A refused send leaves the riders polling; a replica's refusal answers them with it,
 * as it would their own receive.
 */
export async function sendReceive(
  proposer: Proposer,
  name: string,
  messages: SendCommandMessage[],
  riders: Rider[],
  maxMessageBytes: number,
): Promise<SendMessagesResponse> {
  const payload = encodeSendReceive({
    queue: name,
    messages,
    receives: riders.map(({ request }) => ({
      // Cut to the queue as it is now (it may hold larger messages than when the rider parked).
      maxMessages: fittingReceive(request.maxMessages, maxMessageBytes),
      visibilityTimeoutSeconds: request.visibilityTimeoutSeconds ?? 0,
    })),
  });
  let result: CommandResults[typeof CommandType.SendReceive];
  try {
    result = await propose(proposer, CommandType.SendReceive, payload);
  } catch (error) {
    const refused = error instanceof BrokerError && !isReplicaRefusal(error.code);
    for (const rider of riders) {
      rider.answer(refused ? Promise.resolve({ messages: [] }) : Promise.reject(error));
    }
    throw error;
  }
  riders.forEach((rider, index) => rider.answer(Promise.resolve(result.receives[index])));
  return { messages: result.messages };
}
