/**
 * The cryptography of the peer handshake and of authenticated frames (the byte layouts are in
 * `peer_codec.ts`): keys derived from the cluster key, the two proofs of the mutual
 * challenge–response, the per-direction session keys, and the tag every frame after the
 * handshake carries.
 *
 * Everything is HMAC-SHA256 (`node:crypto`, one HMAC per frame; frames batch many messages).
 * Labels separate every use of a key, so a value computed for one purpose (the acceptor's proof,
 * a frame from the dialer) is never accepted for another (the dialer's proof, a frame back to
 * the dialer).
 *
 * @module
 */

import {
  createHash,
  createHmac,
  createSecretKey,
  type KeyObject,
  randomBytes,
  timingSafeEqual,
} from "node:crypto";
import { PeerCodecError } from "./peer_body_reader.ts";

/** Bytes of each side's random handshake nonce. */
export const nonceBytes = 32;
/** Bytes of a handshake proof (a whole HMAC-SHA256). */
export const proofBytes = 32;
/** Bytes of the tag closing every frame after the handshake (a whole HMAC-SHA256). */
export const tagBytes = 32;
/** A shorter cluster key is refused (the loader asks for 32 characters; this is the floor). */
export const clusterKeyBytesMin = 16;

const encoder = new TextEncoder();

/** What both sides bind their proofs and session keys to (see `peer_codec.ts`). */
export interface Transcript {
  /** SHA-256 of the dialer's hello frame exactly as sent (its id, nonce, URLs, cluster id). */
  helloHash: Uint8Array;
  acceptorId: string;
  acceptorNonce: Uint8Array;
  /** The cluster id each side is configured with ("" when none): different ids never agree. */
  clusterId: string;
}

/** The three MACs of the refusal exchange: the acceptor's refusal, the dialer's answer, the detail. */
export type RefusalMacPurpose = "acceptor" | "dialer" | "detail";

/** The direction a frame travels; each has its own key and sequence. */
export type Direction = "dialerToAcceptor" | "acceptorToDialer";

/**
 * The secrets of one cluster key. The key itself is used once, to derive `authKey`; nothing
 * derived from it is ever sent.
 *
 * @example
 * ```ts
 * const keys = new PeerKeys(new TextEncoder().encode("…64 hex characters…"));
 * const proof = keys.proof("acceptor", transcript);
 * ```
 */
export class PeerKeys {
  readonly #authKey: KeyObject;

  constructor(clusterKey: Uint8Array) {
    if (clusterKey.length < clusterKeyBytesMin) {
      throw new RangeError(`a cluster key has at least ${clusterKeyBytesMin} bytes`);
    }
    this.#authKey = createSecretKey(hmac(clusterKey, [label("auth")]));
  }

  /** The proof the `role` side sends: it knows the key and saw this very handshake. */
  proof(role: "dialer" | "acceptor", transcript: Transcript): Uint8Array {
    return hmac(this.#authKey, [label(role), ...transcriptParts(transcript)]);
  }

  /** Whether `proof` is the one `role` must send (constant-time comparison). */
  verifyProof(role: "dialer" | "acceptor", transcript: Transcript, proof: Uint8Array): boolean {
    return proof.length === proofBytes && timingSafeEqual(this.proof(role, transcript), proof);
  }

  /**
   * A MAC of the refusal exchange (`peer_refusal.ts`) over `transcript` and `extra` (each
   * length-prefixed); `purpose` keeps its three uses apart from each other and from the proofs.
   */
  refusalMac(purpose: RefusalMacPurpose, transcript: Transcript, extra: string[] = []): Uint8Array {
    return hmac(this.#authKey, [
      label(`refusal ${purpose}`),
      ...transcriptParts(transcript),
      ...extra.map(lengthPrefixed),
    ]);
  }

  /** Whether `mac` is `refusalMac(purpose, transcript, extra)` (constant-time comparison). */
  verifyRefusalMac(
    purpose: RefusalMacPurpose,
    transcript: Transcript,
    extra: string[],
    mac: Uint8Array,
  ): boolean {
    return mac.length === proofBytes &&
      timingSafeEqual(this.refusalMac(purpose, transcript, extra), mac);
  }

  /** The key of each direction for the connection this handshake opened. */
  sessionKeys(transcript: Transcript): Record<Direction, KeyObject> {
    const session = hmac(this.#authKey, [label("session"), ...transcriptParts(transcript)]);
    return {
      dialerToAcceptor: createSecretKey(hmac(session, [label("dialer to acceptor")])),
      acceptorToDialer: createSecretKey(hmac(session, [label("acceptor to dialer")])),
    };
  }
}

/** A fresh random handshake nonce. */
export function newNonce(): Uint8Array {
  return new Uint8Array(randomBytes(nonceBytes));
}

/** SHA-256 of `bytes` (the hello frame bound into the transcript). */
export function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(bytes).digest());
}

/**
 * Writes the tags of one direction: frame `n` (from 0) is tagged with HMAC(key, u64 n ‖ frame).
 * The sequence number is not sent; both sides count, so a dropped, replayed, reordered or
 * reflected frame fails its tag.
 */
export class FrameSealer {
  readonly #mac: FrameMac;
  readonly #sequence = new Uint8Array(8);
  #next = 0;

  constructor(key: KeyObject) {
    this.#mac = new FrameMac(key);
  }

  /** Fills the last `tagBytes` of `frame` (whose length field already counts them). */
  seal(frame: Uint8Array): void {
    const end = frame.length - tagBytes;
    frame.set(this.#mac.tag(this.#sequence, this.#next++, frame.subarray(0, end)), end);
  }
}

/** Checks the tags of one direction in order (see `FrameSealer`). */
export class FrameOpener {
  readonly #mac: FrameMac;
  readonly #sequence = new Uint8Array(8);
  #next = 0;

  constructor(key: KeyObject) {
    this.#mac = new FrameMac(key);
  }

  /** Throws `PeerCodecError` unless `frame` ends with the tag of the next frame in sequence. */
  open(frame: Uint8Array): void {
    const end = frame.length - tagBytes;
    if (end < 5) throw new PeerCodecError("a frame too short for its tag");
    const expected = this.#mac.tag(this.#sequence, this.#next, frame.subarray(0, end));
    if (!timingSafeEqual(expected, frame.subarray(end))) {
      throw new PeerCodecError(`frame ${this.#next} failed authentication (tampered or replayed)`);
    }
    this.#next++;
  }
}

const sha256BlockBytes = 64;

/**
 * HMAC-SHA256 (RFC 2104) of frames under one key, its padded keys made once: SHA256(key ⊕ opad ‖
 * SHA256(key ⊕ ipad ‖ message)). `createHmac` per frame exported the key and built a stream
 * object each time: 13 against 8–9 µs for a 120-byte frame, 26 against 23–25 µs for 17 KB.
 */
class FrameMac {
  readonly #innerPad = new Uint8Array(sha256BlockBytes);
  readonly #outerPad = new Uint8Array(sha256BlockBytes);

  constructor(key: KeyObject) {
    let raw = new Uint8Array(key.export());
    if (raw.length > sha256BlockBytes) {
      raw = new Uint8Array(createHash("sha256").update(raw).digest());
    }
    for (let index = 0; index < sha256BlockBytes; index++) {
      const byte = raw[index] ?? 0;
      this.#innerPad[index] = byte ^ 0x36;
      this.#outerPad[index] = byte ^ 0x5c;
    }
  }

  /** The tag of frame `sequence` (written little-endian into `scratch`, 8 bytes) with `bytes`. */
  tag(scratch: Uint8Array, sequence: number, bytes: Uint8Array): Uint8Array {
    const view = new DataView(scratch.buffer);
    view.setUint32(0, sequence >>> 0, true);
    view.setUint32(4, Math.floor(sequence / 4_294_967_296), true);
    const inner = createHash("sha256").update(this.#innerPad).update(scratch).update(bytes)
      .digest();
    return createHash("sha256").update(this.#outerPad).update(inner).digest();
  }
}

function label(name: string): Uint8Array {
  // The terminating 0 keeps one label from being a prefix of another plus data.
  return encoder.encode(`cmqd/peer/v2/${name}\0`);
}

/** `str` of the peer layouts: u16 byte length, then the UTF-8 bytes. */
export function lengthPrefixed(text: string): Uint8Array {
  const bytes = encoder.encode(text);
  const out = new Uint8Array(2 + bytes.length);
  new DataView(out.buffer).setUint16(0, bytes.length, true);
  out.set(bytes, 2);
  return out;
}

function transcriptParts(transcript: Transcript): Uint8Array[] {
  return [
    transcript.helloHash,
    lengthPrefixed(transcript.acceptorId),
    transcript.acceptorNonce,
    lengthPrefixed(transcript.clusterId),
  ];
}

function hmac(key: Uint8Array | KeyObject, parts: Uint8Array[]): Uint8Array {
  const mac = createHmac("sha256", key);
  for (const part of parts) mac.update(part);
  return new Uint8Array(mac.digest());
}
