/**
 * Test doubles and helpers of the transport room, for tests outside it (through
 * `broker/testing.ts`): a raw peer that speaks the handshake with any key, a black-holing TCP
 * relay, the codec's frame builders for hand-made frames, and certificates made by openssl.
 *
 * @module
 */
export { closedByPeer, rawConnect, rawHandshake, type RawSession } from "./raw_peer.ts";
export { TcpProxy } from "./tcp_proxy.ts";
export { encodeHelloFrame, encodeMessagesFrame, encodeProofFrame } from "../peer_codec.ts";
export { newNonce, tagBytes } from "../peer_auth.ts";
export {
  hasOpenssl,
  issueCertificate,
  makeCertificates,
  makeTestCa,
  type TestCa,
  type TestCertificate,
} from "./certificates.ts";
