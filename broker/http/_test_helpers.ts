/**
 * Helpers shared by the HTTP and metrics tests (not used by production code).
 *
 * @module
 */
import assert from "node:assert/strict";

/** Parses exposition text into `name{labels}` → value, checking every line's shape. */
export function parsePrometheusText(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  assert.ok(text.endsWith("\n"), "exposition ends with a newline");
  for (const line of text.slice(0, -1).split("\n")) {
    if (line.startsWith("# HELP ") || line.startsWith("# TYPE ")) {
      assert.match(
        line,
        /^# (HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*|TYPE \S+ (counter|gauge|histogram))$/,
      );
      continue;
    }
    const match = line.match(
      /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})?) (\S+)$/,
    );
    assert.ok(match, `sample line: ${line}`);
    const value = Number(match[2].replace("+Inf", "Infinity"));
    assert.ok(!Number.isNaN(value) || match[2] === "NaN", `value of ${line}`);
    samples.set(match[1], value);
  }
  return samples;
}
