import assert from "node:assert/strict";
import { Metrics } from "./metrics.ts";
import { RequestRecorder } from "./request_context.ts";
import { parsePrometheusText } from "./testing/mod.ts";

Deno.test("the recorder labels unknown methods OTHER, however many a client invents", () => {
  const metrics = new Metrics();
  const recorder = new RequestRecorder(metrics);
  const started = performance.now();
  recorder.record("/v2/index.php", "POST", 200, started);
  for (let index = 0; index < 50; index++) recorder.record("unmatched", `M${index}`, 404, started);
  const samples = [...parsePrometheusText(metrics.text())]
    .filter(([name]) => name.startsWith("cmqd_http_requests_total"));
  assert.deepEqual(samples.sort(), [
    ['cmqd_http_requests_total{method="OTHER",route="unmatched",status="404"}', 50],
    ['cmqd_http_requests_total{method="POST",route="/v2/index.php",status="200"}', 1],
  ]);
});
