// Compiled with `tsc --noEmit` against the installed package: the types are real (each line
// marked as an expected error must be one, or tsc fails).
import {
  type ApiErrorCode,
  CmqdClient,
  CmqdError,
  Consumer,
  type ErrorCode,
  Producer,
  type Queue,
  type ReceivedMessage,
} from "@cmqd/sdk";
import { startTestBroker, type TestBroker } from "@cmqd/sdk/testing";

export async function typed(url: string): Promise<number> {
  const client = new CmqdClient({ baseUrl: url });
  const { queue }: { queue: Queue; created: boolean } = await client.createQueue("typed", {
    visibilityTimeoutSeconds: 30,
  });
  // @ts-expect-error: attribute names are checked
  await client.createQueue("typed", { visibilityTimeout: 30 });
  const producer = new Producer(client, "typed", { batchSize: 16 });
  const sent: { id: string; sequence: number } = await producer.send({
    body: "x",
    delaySeconds: 0,
  });
  // @ts-expect-error: a body is a string
  await producer.send({ body: 42 });
  const consumer = new Consumer(client, "typed", {
    handleMessage: (message: ReceivedMessage, { signal }: { signal: AbortSignal }) => {
      if (signal.aborted) return;
      const count: number = message.receiveCount;
      void count;
    },
  });
  await consumer.stop();
  try {
    await client.getQueue("missing");
  } catch (error) {
    if (error instanceof CmqdError) {
      const code: ErrorCode = error.code;
      const apiCode: ApiErrorCode = "QueueNotFound";
      // @ts-expect-error: error codes are a union, not any string
      const wrong: ApiErrorCode = "QueueMissing";
      void [code, apiCode, wrong];
    }
  }
  const broker: TestBroker = await startTestBroker({ nodes: 3 });
  await broker.stop();
  return queue.visibilityTimeoutSeconds + sent.sequence;
}
