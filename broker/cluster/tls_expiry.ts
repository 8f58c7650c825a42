/**
 * The end of the certificates a node serves, for its operator: a `/metrics` gauge of each one's
 * `notAfter` (Unix seconds) by the listener that serves it, and a warning once a day while one
 * expires within 14 days or has expired (`certificateExpiryWarning`). The TLS files are read at
 * start only, so a renewed file is served after a restart; the start itself warns too (`main.ts`).
 *
 * @module
 */
import { X509Certificate } from "node:crypto";
import type { Metrics } from "../http/mod.ts";
import type { Timers } from "../replication/mod.ts";
import { certificateExpiryWarning } from "./tls_files.ts";

/** A certificate a listener of the node serves. */
export interface ServedCertificate {
  /** `client` (the HTTP API) or `peer` (the Raft links, `--peer-tls`). */
  listener: "client" | "peer";
  /** The file it was read from (`--tls-cert`), named in the warning. */
  path: string;
  /** The PEM text; its first certificate is the node's own. */
  pem: string;
}

/** How often the certificates are checked after the start: once a day. */
export const certificateCheckMs = 86_400_000;

/** The family of the gauge. */
export const certificateExpiryFamily = "cmqd_tls_certificate_expiry_timestamp_seconds";

/**
 * Sets the gauge of each certificate in `metrics` and checks them every `certificateCheckMs` on
 * `timers`, reporting a warning for each file (one line for a file two listeners serve) whose
 * certificate expires within 14 days or has expired at `clock`'s time. A certificate that can't
 * be parsed has no series (the start refuses one Deno can't use); without certificates the family
 * has none and nothing is checked. `stop` ends the checks.
 *
 * @example
 * ```ts
 * const watch = watchCertificateExpiry({ certificates, metrics, clock, timers, report });
 * watch.stop();
 * ```
 */
export function watchCertificateExpiry(parts: {
  certificates: readonly ServedCertificate[];
  metrics: Metrics;
  clock: { now(): number };
  timers: Timers;
  report: (line: string) => void;
}): { stop(): void } {
  const { certificates, metrics, clock, timers, report } = parts;
  // Registered without certificates too: every node's page has every family.
  const gauge = metrics.gauge(
    certificateExpiryFamily,
    "When the certificate a listener serves expires (its notAfter), in Unix seconds; read at start, as the TLS files are.",
  );
  if (certificates.length === 0) return { stop() {} };
  for (const { listener, pem } of certificates) {
    const notAfter = notAfterMs(pem);
    if (notAfter !== null) gauge.set(notAfter / 1000, { listener });
  }
  const check = () => {
    const files = new Map(certificates.map(({ path, pem }) => [path, pem]));
    for (const [path, pem] of files) {
      const warning = certificateExpiryWarning(pem, clock.now());
      if (warning !== null) {
        report(
          `WARNING: --tls-cert ${path}: ${warning}; the TLS files are read at start only: ` +
            "restart the node once the file holds the renewed certificate",
        );
      }
    }
  };
  let timer: unknown = null;
  let stopped = false;
  const arm = () => {
    timer = timers.setTimer(certificateCheckMs, () => {
      if (stopped) return;
      check();
      arm();
    });
  };
  arm();
  return {
    stop() {
      stopped = true;
      timers.clearTimer(timer);
    },
  };
}

/** The end of the first certificate of `pem`, in Unix milliseconds; null when it can't be read. */
function notAfterMs(pem: string): number | null {
  try {
    const end = new Date(new X509Certificate(pem).validTo).getTime();
    return Number.isFinite(end) ? end : null;
  } catch {
    return null;
  }
}
