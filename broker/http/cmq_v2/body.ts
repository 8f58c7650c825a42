/**
 * Reading a CMQ request body with a bound. The official SDKs POST `key=value&…` without a
 * Content-Type (Python, PHP) or with `*\/*` (the Java SDK's okhttp), so the body is taken as
 * form-encoded whatever its content type says (but for the JSON object the Node.js SDK
 * `cmq-nodejs-sdk` sends under a form content type: `nodejs_body.ts`).
 *
 * The bound is enforced before parsing: a declared length over it is refused without reading,
 * and a body without one is read only up to the bound; and every body within the node's budget
 * of bodies being read at once and its stall timeout (`../../service/body_budget.ts`).
 *
 * @module
 */
import { type BodyBudget, BodyReadError, contentCodingProblem } from "../../service/mod.ts";
import { cmqCode, CmqError, invalidParameter, moduleCode } from "./errors.ts";

/**
 * The body of `request` as it came (empty when there is none), at most `bytesMax` bytes, read
 * through the node's `budget` (`BodyBudget.read`). The door decodes it as UTF-8: bytes that are
 * not become U+FFFD, and a value changed that way no longer matches its signature. Refusals are
 * CMQ answers: a body over the bound is out of range; one the budget can't hold is the
 * retryable 6000 (as the door answers `NotReady`); one that stopped arriving or failed to
 * arrive (the client went away while sending it) a bad request, not an internal error to log;
 * one with a content coding (gzip, …) a bad request too, unread.
 */
export async function readFormBytes(
  request: Request,
  bytesMax: number,
  budget: BodyBudget,
): Promise<Uint8Array<ArrayBuffer>> {
  const coding = contentCodingProblem(request);
  if (coding !== null) throw invalidParameter(moduleCode.invalidRequest, `request ${coding}`);
  try {
    return await budget.read(request, bytesMax);
  } catch (error) {
    if (!(error instanceof BodyReadError)) throw error;
    switch (error.reason) {
      case "too_large":
        throw invalidParameter(
          moduleCode.outOfRange,
          `request body value or length is out of range (at most ${bytesMax} bytes)`,
        );
      case "busy":
        throw new CmqError(cmqCode.internalError, error.message);
      case "stalled":
        throw invalidParameter(moduleCode.invalidRequest, error.message);
      case "unreadable":
        throw invalidParameter(moduleCode.invalidRequest, "the request body could not be read");
    }
  }
}

const lenientUtf8 = new TextDecoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A form body's bytes as text. Bytes that are not UTF-8 are refused (4000 `(10000)`) rather than
 * read as U+FFFD, another text than was sent; the strict decoder runs only when the lenient
 * one met a U+FFFD (which may also have been sent as such).
 */
export function formText(bytes: Uint8Array<ArrayBuffer>): string {
  const text = lenientUtf8.decode(bytes);
  if (!text.includes("\uFFFD")) return text;
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw invalidParameter(
      moduleCode.invalidRequest,
      "the request body is not UTF-8 text: form-encode values as UTF-8 (percent escapes)",
    );
  }
}
