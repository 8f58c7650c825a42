/**
 * A strict reader of the Prometheus text exposition format 0.0.4, for tests: it fails on what
 * a lenient parser lets through and a Prometheus server or a stricter client would refuse or
 * misread — a family's HELP or TYPE twice, a family split in two, a sample before its TYPE or
 * of a name its family can't have, a series twice, an escape other than `\\`, `\"` and `\n`, a
 * counter not ending in `_total`, a histogram without a `+Inf` bucket or with buckets that are
 * not cumulative.
 *
 * @module
 */
import assert from "node:assert/strict";

/** One sample: its metric name, its labels (in text order) and its value. */
export interface StrictSample {
  name: string;
  labels: [string, string][];
  value: number;
}

/** One metric family: its name, type, help and samples. */
export interface StrictFamily {
  name: string;
  type: "counter" | "gauge" | "histogram" | "summary" | "untyped";
  help: string | null;
  samples: StrictSample[];
}

const namePattern = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelNamePattern = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** The families of `text`, by name; throws (an assertion error) at the first fault. */
export function parsePrometheusStrict(text: string): Map<string, StrictFamily> {
  const families = new Map<string, StrictFamily>();
  const closed = new Set<string>();
  let current: StrictFamily | null = null;
  const seenSeries = new Set<string>();
  const typed = new Set<string>();
  assert.ok(text.endsWith("\n"), "the exposition ends with a newline");
  const open = (name: string, line: string): StrictFamily => {
    if (current?.name === name) return current;
    assert.ok(!closed.has(name), `family ${name} appears twice (split): ${line}`);
    if (current !== null) closed.add(current.name);
    const family: StrictFamily = { name, type: "untyped", help: null, samples: [] };
    families.set(name, family);
    current = family;
    return family;
  };
  for (const line of text.slice(0, -1).split("\n")) {
    assert.ok(line !== "", "no empty lines");
    if (line.startsWith("#")) {
      const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (meta === null) continue; // a plain comment
      const [, kind, name, rest] = meta;
      assert.match(name, namePattern, `metric name in ${line}`);
      const family = open(name, line);
      if (kind === "HELP") {
        assert.equal(family.help, null, `HELP of ${name} twice`);
        assert.ok(!/\\[^\\n]/.test(rest.replaceAll("\\\\", "")), `HELP escapes: ${line}`);
        family.help = rest;
      } else {
        assert.equal(family.samples.length, 0, `TYPE of ${name} after its samples`);
        assert.ok(!typed.has(name), `TYPE of ${name} twice`);
        assert.match(rest, /^(counter|gauge|histogram|summary|untyped)$/, `type in ${line}`);
        family.type = rest as StrictFamily["type"];
        typed.add(name);
      }
      continue;
    }
    const sample = parseSample(line);
    const family = familyOf(sample.name, current);
    const owner = open(family, line);
    if (owner.type === "histogram") {
      assert.ok(
        /_(bucket|sum|count)$/.test(sample.name) && sample.name !== owner.name,
        `histogram ${owner.name} sample ${sample.name}`,
      );
    } else {
      assert.equal(sample.name, owner.name, `sample ${sample.name} in family ${owner.name}`);
    }
    const key = `${sample.name}{${
      [...sample.labels].sort(([a], [b]) => a < b ? -1 : 1).map(([n, v]) => `${n}=${v}`).join(
        "\u0000",
      )
    }}`;
    assert.ok(!seenSeries.has(key), `series twice: ${line}`);
    seenSeries.add(key);
    owner.samples.push(sample);
  }
  for (const family of families.values()) checkFamily(family);
  return families;
}

/** The family a sample named `name` belongs to, given the family being read. */
function familyOf(name: string, current: StrictFamily | null): string {
  if (current !== null && current.type === "histogram") {
    for (const suffix of ["_bucket", "_sum", "_count"]) {
      if (name === current.name + suffix) return current.name;
    }
  }
  return name;
}

function parseSample(line: string): StrictSample {
  const head = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
  assert.ok(head, `sample name: ${line}`);
  const name = head[1];
  let at = name.length;
  const labels: [string, string][] = [];
  if (line[at] === "{") {
    at++;
    while (line[at] !== "}") {
      const labelName = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(line.slice(at));
      assert.ok(labelName, `label name at ${at}: ${line}`);
      assert.match(labelName[1], labelNamePattern);
      assert.ok(!labels.some(([n]) => n === labelName[1]), `label ${labelName[1]} twice: ${line}`);
      at += labelName[0].length;
      let value = "";
      for (;;) {
        const char = line[at];
        assert.ok(char !== undefined, `unterminated label value: ${line}`);
        if (char === '"') break;
        if (char === "\\") {
          const next = line[at + 1];
          assert.ok(next === "\\" || next === '"' || next === "n", `escape \\${next}: ${line}`);
          value += next === "n" ? "\n" : next;
          at += 2;
          continue;
        }
        value += char;
        at++;
      }
      at++;
      labels.push([labelName[1], value]);
      if (line[at] === ",") at++;
      else assert.equal(line[at], "}", `label list: ${line}`);
    }
    at++;
  }
  const rest = /^ (\S+)( -?\d+)?$/.exec(line.slice(at));
  assert.ok(rest, `value of ${line}`);
  const raw = rest[1];
  const value = raw === "+Inf" ? Infinity : raw === "-Inf" ? -Infinity : Number(raw);
  assert.ok(raw === "NaN" || !Number.isNaN(value), `value of ${line}`);
  assert.ok(/^(NaN|[+-]Inf|[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)$/.test(raw), `number: ${line}`);
  return { name, labels, value };
}

function checkFamily(family: StrictFamily): void {
  if (family.type === "counter") {
    assert.match(family.name, /_total$/, `counter ${family.name} ends in _total`);
    for (const sample of family.samples) {
      assert.ok(sample.value >= 0, `counter ${family.name} is not negative`);
    }
  }
  if (family.type !== "histogram") return;
  const groups = new Map<string, StrictSample[]>();
  const keyOf = (sample: StrictSample) =>
    JSON.stringify(sample.labels.filter(([n]) => n !== "le").sort());
  for (const sample of family.samples) {
    const key = keyOf(sample);
    groups.set(key, [...(groups.get(key) ?? []), sample]);
  }
  for (const [key, samples] of groups) {
    const buckets = samples.filter((s) => s.name.endsWith("_bucket")).map((s) => {
      const le = s.labels.find(([n]) => n === "le");
      assert.ok(le, `${family.name}${key}: bucket without le`);
      return { le: le[1] === "+Inf" ? Infinity : Number(le[1]), count: s.value };
    });
    const count = samples.find((s) => s.name.endsWith("_count"));
    assert.ok(count, `${family.name}${key}: _count`);
    assert.ok(samples.some((s) => s.name.endsWith("_sum")), `${family.name}${key}: _sum`);
    assert.equal(buckets.at(-1)?.le, Infinity, `${family.name}${key}: last bucket +Inf`);
    for (let index = 1; index < buckets.length; index++) {
      assert.ok(buckets[index - 1].le < buckets[index].le, `${family.name}${key}: le increase`);
      assert.ok(buckets[index - 1].count <= buckets[index].count, `${family.name}: cumulative`);
    }
    assert.equal(buckets.at(-1)?.count, count.value, `${family.name}${key}: +Inf = _count`);
  }
}
