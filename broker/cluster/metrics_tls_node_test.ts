/**
 * A node given the certificates its listeners serve reports their end on `/metrics`
 * (`cmqd_tls_certificate_expiry_timestamp_seconds{listener}`) and, once a day, warns (its `warn`,
 * stderr by default) while one expires within 14 days; closing the node ends the checks.
 */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { SimFileSystem } from "../../storage/mod.ts";
import { parsePrometheusText } from "../http/testing/mod.ts";
import type { Timers } from "../replication/mod.ts";
import { hasOpenssl, makeCertificates } from "../transport/testing/mod.ts";
import { realTimers } from "./real_time.ts";
import { startOneNode } from "./testing/mod.ts";

Deno.test({
  name: "/metrics gives the served certificates' end by listener; a daily check warns near it",
  ignore: !hasOpenssl(),
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "cmqd-tls-metrics-" });
    try {
      // The test certificates live two days: within the 14 days that are warned of.
      const { cert } = await makeCertificates(dir);
      const pem = await Deno.readTextFile(cert);
      const notAfter = new Date(new X509Certificate(pem).validTo).getTime() / 1000;
      // Real timers, but the daily check is kept to be run here, not waited for.
      const daily: { callback: () => void; cleared: boolean }[] = [];
      const timers: Timers = {
        setTimer(delayMs, callback) {
          if (delayMs !== 86_400_000) return realTimers.setTimer(delayMs, callback);
          daily.push({ callback, cleared: false });
          return daily.at(-1);
        },
        clearTimer(handle) {
          const check = daily.find((entry) => entry === handle);
          if (check === undefined) realTimers.clearTimer(handle);
          else check.cleared = true;
        },
      };
      const lines: string[] = [];
      const node = await startOneNode(new SimFileSystem(), {
        timers,
        warn: (line) => lines.push(line),
        servedCertificates: [
          { listener: "client", path: cert, pem },
          { listener: "peer", path: cert, pem },
        ],
      });
      try {
        const samples = parsePrometheusText(await (await node.app.request("/metrics")).text());
        const family = "cmqd_tls_certificate_expiry_timestamp_seconds";
        assert.equal(samples.get(`${family}{listener="client"}`), notAfter);
        assert.equal(samples.get(`${family}{listener="peer"}`), notAfter);
        assert.equal(daily.length, 1, "one daily check armed");
        assert.ok(!lines.some((line) => line.includes("WARNING")), "the start's line is main's");
        daily[0].callback();
        const warnings = lines.filter((line) => line.includes("WARNING"));
        assert.equal(warnings.length, 1, "one line for the file both listeners serve");
        assert.match(
          warnings[0],
          new RegExp(`^cmqd n1: WARNING: --tls-cert ${cert}: the certificate expires (in|within)`),
        );
      } finally {
        await node.close();
      }
      assert.equal(daily.length, 2, "the check re-armed itself");
      assert.ok(daily[1].cleared, "closing the node ends the checks");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
