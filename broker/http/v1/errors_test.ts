import assert from "node:assert/strict";
import { z } from "zod";
import { invalidParameterFromZod } from "./errors.ts";

const messageOf = (schema: z.ZodType, input: unknown): string => {
  const parsed = schema.safeParse(input);
  assert.equal(parsed.success, false);
  return invalidParameterFromZod(parsed.error!, input).message;
};

Deno.test("a bound of one entry is said in the singular, other bounds in the plural", () => {
  const one = z.object({ messages: z.array(z.string()).min(1).max(1) });
  assert.equal(messageOf(one, { messages: [] }), "messages: must have at least 1 entry");
  assert.equal(messageOf(one, { messages: ["a", "b"] }), "messages: must have at most 1 entry");
  const three = z.object({ messages: z.array(z.string()).min(3).max(3) });
  assert.equal(messageOf(three, { messages: [] }), "messages: must have at least 3 entries");
  assert.equal(
    messageOf(three, { messages: ["a", "b", "c", "d"] }),
    "messages: must have at most 3 entries",
  );
});
