import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { Metrics } from "../http/mod.ts";
import { parsePrometheusText } from "../http/testing/mod.ts";
import { hasOpenssl, makeCertificates } from "../transport/testing/mod.ts";
import { certificateCheckMs, watchCertificateExpiry } from "./tls_expiry.ts";

/** Timers whose callbacks the test runs by hand. */
function handTimers() {
  const pending = new Map<number, { delayMs: number; callback: () => void }>();
  let next = 0;
  return {
    pending,
    setTimer: (delayMs: number, callback: () => void) => {
      pending.set(++next, { delayMs, callback });
      return next;
    },
    clearTimer: (handle: unknown) => void pending.delete(handle as number),
    /** Runs the one pending timer. */
    fire() {
      assert.equal(pending.size, 1, "one check armed");
      const [[handle, { callback }]] = pending;
      pending.delete(handle);
      callback();
    },
  };
}

Deno.test({
  name:
    "the served certificates' ends are a gauge by listener, and a daily check warns near the end",
  ignore: !hasOpenssl(),
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "cmqd-tls-expiry-" });
    try {
      // The test certificates live two days (told to the hour): within the 14 days warned of.
      const { cert } = await makeCertificates(dir);
      const pem = await Deno.readTextFile(cert);
      const notAfter = new Date(new X509Certificate(pem).validTo).getTime();
      const metrics = new Metrics();
      const timers = handTimers();
      const lines: string[] = [];
      let now = Date.now();
      const watch = watchCertificateExpiry({
        certificates: [
          { listener: "client", path: cert, pem },
          { listener: "peer", path: cert, pem },
        ],
        metrics,
        clock: { now: () => now },
        timers,
        report: (line) => lines.push(line),
      });
      const samples = parsePrometheusText(metrics.text());
      const family = "cmqd_tls_certificate_expiry_timestamp_seconds";
      assert.equal(samples.get(`${family}{listener="client"}`), notAfter / 1000);
      assert.equal(samples.get(`${family}{listener="peer"}`), notAfter / 1000);
      // The start's warning is main.ts's: the watch checks a day later, and every day after.
      assert.deepEqual(lines, []);
      assert.equal([...timers.pending.values()][0].delayMs, certificateCheckMs);
      timers.fire();
      assert.equal(lines.length, 1, "one line for the file both listeners serve");
      assert.match(
        lines[0],
        new RegExp(
          `^WARNING: --tls-cert ${cert}: the certificate expires in 2 days \\(.*\\); the TLS ` +
            "files are read at start only: restart the node once the file holds the renewed " +
            "certificate$",
        ),
      );
      now = notAfter + 3 * certificateCheckMs;
      timers.fire();
      assert.match(
        lines[1],
        /: the certificate expired 3 days ago \(.*\): clients will refuse it;/,
      );
      watch.stop();
      assert.equal(timers.pending.size, 0, "no check armed once stopped");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("without a served certificate the family has no sample and nothing is checked", () => {
  const metrics = new Metrics();
  const timers = handTimers();
  watchCertificateExpiry({
    certificates: [],
    metrics,
    clock: { now: () => 0 },
    timers,
    report: () => assert.fail("nothing to report"),
  });
  const text = metrics.text();
  assert.match(text, /^# TYPE cmqd_tls_certificate_expiry_timestamp_seconds gauge$/m);
  assert.doesNotMatch(text, /^cmqd_tls_certificate_expiry_timestamp_seconds\{/m);
  assert.equal(timers.pending.size, 0);
});
