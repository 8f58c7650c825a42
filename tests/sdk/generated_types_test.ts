import assert from "node:assert/strict";
import { generatedTypesPath, generateTypes } from "./openapi_codegen.ts";

Deno.test("the committed SDK types are what the broker's current routes generate", async () => {
  const committed = await Deno.readTextFile(
    new URL(`../../${generatedTypesPath}`, import.meta.url),
  );
  const generated = await generateTypes();
  assert.ok(
    committed === generated,
    `${generatedTypesPath} is out of date with the broker's OpenAPI document: ` +
      "run deno task sdk:generate and commit the result",
  );
});

Deno.test("generation is deterministic: two runs give the same text", async () => {
  assert.equal(await generateTypes(), await generateTypes());
});

Deno.test("the error code union lists every code of the v1 error schema", async () => {
  const text = await generateTypes();
  for (const code of ["QueueNotFound", "InvalidParameter", "NoLeader", "ReceiptHandleStale"]) {
    assert.ok(text.includes(`"${code}"`), code);
  }
});
