/**
 * AWS Signature Version 4 and key permissions at the SQS door, through the real SDK's signer.
 */
import assert from "node:assert/strict";
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ListQueuesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
} from "./_npm_test_deps.ts";
import { adminKey, rawCall, rejectsWith, startDoor } from "./_test_server.ts";
import { FileKeyRing } from "../../auth/mod.ts";
import { signedForm } from "./_signed_form.ts";

const workerKey = {
  secretId: "AKIDworker",
  secretKey: "worker-secret",
  allow: ["queue:images:receive", "queue:results:send", "queue:results:read"],
};

/** May manage `own` and `own2`, and send only to `spare`. */
const ownerKey = {
  secretId: "AKIDowner",
  secretKey: "owner-secret",
  allow: ["queue:own:manage", "queue:own:read", "queue:own2:manage", "queue:spare:send"],
};

async function signedDoor(now?: () => number) {
  const door = startDoor({ keys: [adminKey, workerKey, ownerKey], now });
  const images = (await door.client.send(new CreateQueueCommand({ QueueName: "images" })))
    .QueueUrl!;
  const results = (await door.client.send(new CreateQueueCommand({ QueueName: "results" })))
    .QueueUrl!;
  return { door, images, results };
}

Deno.test("a request signed with the right key is served, from any region", async () => {
  const { door, images } = await signedDoor();
  await using _ = door;
  await door.client.send(new SendMessageCommand({ QueueUrl: images, MessageBody: "photo" }));
  const { Messages } = await door.client.send(new ReceiveMessageCommand({ QueueUrl: images }));
  assert.equal(Messages![0].Body, "photo");
});

Deno.test("a wrong secret is SignatureDoesNotMatch, an unknown key InvalidClientTokenId", async () => {
  const { door, images } = await signedDoor();
  await using _ = door;
  const wrongSecret = door.clientFor({ secretId: "AKIDadmin", secretKey: "guess" });
  await rejectsWith(
    wrongSecret.send(new SendMessageCommand({ QueueUrl: images, MessageBody: "x" })),
    { name: "SignatureDoesNotMatch", code: "SignatureDoesNotMatch", status: 403 },
  );
  const unknown = door.clientFor({ secretId: "AKIDnobody", secretKey: "x" });
  await rejectsWith(unknown.send(new ListQueuesCommand({})), {
    name: "InvalidClientTokenId",
    status: 403,
  });
  const { status, body, headers } = await rawCall(door.endpoint, "AmazonSQS.ListQueues", "{}");
  assert.equal(status, 403);
  assert.equal(body.__type, "com.amazon.coral.service#MissingAuthenticationToken");
  assert.equal(headers.get("x-amzn-query-error"), "MissingAuthenticationToken;Sender");
  assert.equal(door.replica.lastIndex, 2, "only the two creates were proposed");
});

Deno.test("a body changed after signing is refused", async () => {
  const { door, images } = await signedDoor();
  await using _ = door;
  const tampering = door.clientFor();
  // Runs after the signer, as a proxy rewriting the request in flight would.
  tampering.middlewareStack.add(
    (next) => (args) => {
      const request = args.request as { body: string | Uint8Array };
      const text = typeof request.body === "string"
        ? request.body
        : new TextDecoder().decode(request.body);
      request.body = text.replace("pay 10", "pay 99");
      return next(args);
    },
    { step: "finalizeRequest", priority: "low", name: "tamperAfterSigning" },
  );
  await rejectsWith(
    tampering.send(new SendMessageCommand({ QueueUrl: images, MessageBody: "pay 10" })),
    { name: "SignatureDoesNotMatch" },
  );
  const { Messages } = await door.client.send(new ReceiveMessageCommand({ QueueUrl: images }));
  assert.equal(Messages, undefined);
});

Deno.test("a signature more than 15 minutes off the server's clock is RequestExpired", async () => {
  await using door = startDoor({ keys: [adminKey], now: () => Date.now() + 3_600_000 });
  await rejectsWith(door.client.send(new ListQueuesCommand({})), {
    name: "RequestExpired",
    status: 400,
  });
  // The SDK corrects its clock from the answer's Date header (the door's clock) and retries:
  // SQS's own recovery from a skewed client clock works unchanged.
  const retrying = door.clientFor(adminKey, { maxAttempts: 2 });
  const { QueueUrls } = await retrying.send(new ListQueuesCommand({}));
  assert.deepEqual(QueueUrls, []);
});

Deno.test("a key without the permission gets AccessDenied, and ListQueues shows what it may read", async () => {
  const { door, images, results } = await signedDoor();
  await using _ = door;
  const worker = door.clientFor(workerKey);
  await rejectsWith(worker.send(new SendMessageCommand({ QueueUrl: images, MessageBody: "x" })), {
    name: "AccessDenied",
    code: "AccessDenied",
    status: 403,
    message: /queue:images:send/,
  });
  await rejectsWith(worker.send(new CreateQueueCommand({ QueueName: "mine" })), {
    name: "AccessDenied",
  });
  await worker.send(new SendMessageCommand({ QueueUrl: results, MessageBody: "done" }));
  await worker.send(new ReceiveMessageCommand({ QueueUrl: images }));
  const listed = await worker.send(new ListQueuesCommand({}));
  assert.deepEqual(listed.QueueUrls, [results]);
});

Deno.test("naming a dead-letter queue needs send on it, as on the native door", async () => {
  const { door, images } = await signedDoor();
  await using _ = door;
  const owner = door.clientFor(ownerKey);
  const own = (await door.client.send(new CreateQueueCommand({ QueueName: "own" }))).QueueUrl!;
  await door.client.send(new CreateQueueCommand({ QueueName: "spare" }));
  const arn = (name: string) => `arn:aws:sqs:eu-west-1:000000000000:${name}`;
  const redrive = (name: string) =>
    JSON.stringify({ deadLetterTargetArn: arn(name), maxReceiveCount: "1" });
  const before = door.replica.lastIndex;
  await rejectsWith(
    owner.send(
      new SetQueueAttributesCommand({
        QueueUrl: own,
        Attributes: { RedrivePolicy: redrive("images") },
      }),
    ),
    { name: "AccessDenied", status: 403, message: /queue:images:send/ },
  );
  await rejectsWith(
    owner.send(
      new CreateQueueCommand({
        QueueName: "own2",
        Attributes: { RedrivePolicy: redrive("images") },
      }),
    ),
    { name: "AccessDenied", message: /queue:images:send/ },
  );
  assert.equal(door.replica.lastIndex, before, "a refused request proposed something");
  await owner.send(
    new SetQueueAttributesCommand({
      QueueUrl: own,
      Attributes: { RedrivePolicy: redrive("spare") },
    }),
  );
  const { Attributes } = await door.client.send(
    new GetQueueAttributesCommand({ QueueUrl: own, AttributeNames: ["RedrivePolicy"] }),
  );
  assert.match(Attributes!.RedrivePolicy!, /spare/);
  const listed = await door.client.send(new ListQueuesCommand({ QueueNamePrefix: "own2" }));
  assert.deepEqual(listed.QueueUrls ?? [], [], "the refused create made the queue");
  assert.ok(images);
});

Deno.test("X-Amz-Target must be signed: a captured request can't be turned into another operation", async () => {
  const { door, images } = await signedDoor();
  await using _ = door;
  await door.client.send(new SendMessageCommand({ QueueUrl: images, MessageBody: "keep me" }));
  const retargeting = door.clientFor();
  // Before the signer: the target leaves the signed headers. After it: a proxy (or someone
  // replaying a captured GetQueueAttributes) names another operation with the same input.
  retargeting.middlewareStack.add(
    (next) => (args) => {
      delete (args.request as { headers: Record<string, string> }).headers["x-amz-target"];
      return next(args);
    },
    { step: "build", name: "unsignTarget" },
  );
  retargeting.middlewareStack.add(
    (next) => (args) => {
      (args.request as { headers: Record<string, string> }).headers["x-amz-target"] =
        "AmazonSQS.PurgeQueue";
      return next(args);
    },
    { step: "finalizeRequest", priority: "low", name: "retargetAfterSigning" },
  );
  await rejectsWith(
    retargeting.send(new GetQueueAttributesCommand({ QueueUrl: images })),
    { name: "SignatureDoesNotMatch", status: 403, message: /X-Amz-Target/ },
  );
  const { Messages } = await door.client.send(new ReceiveMessageCommand({ QueueUrl: images }));
  assert.equal(Messages?.[0].Body, "keep me");
});

Deno.test("a ReceiveMessage whose key a reload takes away ends at once, denied, with no message", async () => {
  let text = JSON.stringify({ keys: [adminKey, workerKey] });
  const keyRing = await FileKeyRing.load("credentials.json", () => Promise.resolve(text));
  await using door = startDoor({ keyRing });
  const images = (await door.client.send(new CreateQueueCommand({ QueueName: "images" })))
    .QueueUrl!;
  const worker = door.clientFor(workerKey);
  // Removed, then narrowed.
  for (const allow of [null, ["queue:results:send"]]) {
    text = JSON.stringify({ keys: [adminKey, workerKey] });
    await keyRing.reload();
    const pending = worker.send(
      new ReceiveMessageCommand({ QueueUrl: images, WaitTimeSeconds: 20 }),
    );
    while (door.broker.parkedReceivers === 0) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    const keys = allow === null ? [adminKey] : [adminKey, { ...workerKey, allow }];
    text = JSON.stringify({ keys });
    await keyRing.reload();
    await rejectsWith(pending, {
      name: "AccessDenied",
      status: 403,
      message: /the key needs queue:images:receive/,
    });
    await door.client.send(new SendMessageCommand({ QueueUrl: images, MessageBody: "secret" }));
    const { Messages } = await door.client.send(new ReceiveMessageCommand({ QueueUrl: images }));
    assert.equal(Messages?.[0].Body, "secret", "the message stays for keys that may receive it");
    await door.client.send(
      new DeleteMessageCommand({ QueueUrl: images, ReceiptHandle: Messages![0].ReceiptHandle }),
    );
  }
});

Deno.test("a query string changed after signing is refused: '+' and '%2B' are not the same value", async () => {
  const { door, images } = await signedDoor();
  await using _ = door;
  const queueUrl = encodeURIComponent(images);
  // Signed with a plus sign in the body; sent with `+`, which the form decoding reads as a space.
  const { status, text } = await signedForm(door.endpoint, adminKey, {
    method: "GET",
    query: `Action=SendMessage&QueueUrl=${queueUrl}&MessageBody=1%2B1`,
    sentQuery: `Action=SendMessage&QueueUrl=${queueUrl}&MessageBody=1+1`,
  });
  assert.equal(status, 403, text);
  assert.match(text, /SignatureDoesNotMatch/);
  const { Messages } = await door.client.send(new ReceiveMessageCommand({ QueueUrl: images }));
  assert.equal(Messages, undefined, "nothing was sent");
  // Signed as the space the door reads it as, `+` is served.
  const served = await signedForm(door.endpoint, adminKey, {
    method: "GET",
    query: `Action=SendMessage&QueueUrl=${queueUrl}&MessageBody=1%201`,
    sentQuery: `Action=SendMessage&QueueUrl=${queueUrl}&MessageBody=1+1`,
  });
  assert.equal(served.status, 200, served.text);
  const received = await door.client.send(new ReceiveMessageCommand({ QueueUrl: images }));
  assert.equal(received.Messages?.[0].Body, "1 1");
});
