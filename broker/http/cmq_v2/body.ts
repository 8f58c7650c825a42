/**
 * Reading a CMQ request body with a bound. The official SDKs POST `key=value&…` without a
 * Content-Type (Python, PHP) or with `*\/*` (the Java SDK's okhttp), so the body is taken as
 * form-encoded whatever its content type says.
 *
 * The bound is enforced before parsing: a declared length over it is refused without reading,
 * and a body without one is read only up to the bound.
 *
 * @module
 */
import { CmqError, invalidParameter, moduleCode } from "./errors.ts";

function tooLarge(bytesMax: number) {
  return invalidParameter(
    moduleCode.outOfRange,
    `request body value or length is out of range (at most ${bytesMax} bytes)`,
  );
}

/**
 * The body of `request` as it came (empty when there is none), at most `bytesMax` bytes. The
 * door decodes it as UTF-8: bytes that are not become U+FFFD, and a value changed that way no
 * longer matches its signature.
 */
export function readFormBytes(
  request: Request,
  bytesMax: number,
): Promise<Uint8Array<ArrayBuffer>> {
  // A body that fails to arrive (the client went away while sending it) is a bad request, not
  // an internal error to log: nobody is left to read the answer.
  return readForm(request, bytesMax).catch((error) => {
    if (error instanceof CmqError) throw error;
    throw invalidParameter(moduleCode.invalidRequest, "the request body could not be read");
  });
}

async function readForm(request: Request, bytesMax: number): Promise<Uint8Array<ArrayBuffer>> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > bytesMax) throw tooLarge(bytesMax);
  if (declared !== null && request.headers.get("transfer-encoding") === null) {
    // The transport delivers exactly the declared bytes, checked above. `bytes()` before
    // touching `request.body`, which would make Deno build a stream for it.
    return await request.bytes();
  }
  const stream = request.body;
  if (stream === null) return new Uint8Array(0);
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > bytesMax) {
      // Stop the sender instead of draining the rest of an oversized body.
      await reader.cancel().catch(() => {});
      throw tooLarge(bytesMax);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
