/**
 * Builds `md5_lanes_wasm.ts`: the WebAssembly module of `md5_lanes.ts`, written out here as text
 * (WAT) and assembled with `wabt`. Test-only: the product carries the assembled bytes, and
 * `md5_lanes_test.ts` checks that they are what this file builds.
 *
 * The module exports its `memory` and three functions, `md5x4`, `md5x8` and `md5x12`, each
 * `(header, blocksMax, out)`: as many MD5s at once as its name says. Each group of four lanes
 * keeps its lanes' states in the 32-bit lanes of four `v128` registers, and a function with two
 * or three groups interleaves their steps: one MD5 step depends on the one before, so a single
 * group leaves the processor waiting between steps, and the other groups' steps fill the wait
 * (measured: 2.0, 1.05 and 0.9 µs per 1 KB text for one, two and three groups).
 *
 * `header` holds, for lanes `l` = 0 … L−1, L `i32` addresses of the padded 64-byte blocks (the
 * caller pads, RFC 1321 §3.1–3.2), then L `i32` block counts. A lane whose blocks are done keeps
 * its state (a mask per block) and re-reads its first block; a lane with no blocks is unused (its
 * address must still be readable). The digests go to `out`, 64 bytes per group: A, B, C and D,
 * each as its four lanes.
 *
 * ```sh
 * deno run -A broker/http/sqs/_md5_lanes_gen.ts    # rewrites md5_lanes_wasm.ts
 * ```
 *
 * @module
 */
import wabtInit from "wabt";

/** The sine table of RFC 1321 §3.4: T[i] = floor(2^32 × |sin(i + 1)|). */
const sines = Array.from(
  { length: 64 },
  (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) >>> 0,
);

/** The left rotations of RFC 1321 §3.4, four per round. */
const rotations = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];

/** The groups of four lanes of each exported function. */
export const laneGroupCounts = [1, 2, 3] as const;

/** The message word step `i` (0–63) adds. */
function wordIndex(i: number): number {
  if (i < 16) return i;
  if (i < 32) return (5 * i + 1) % 16;
  if (i < 48) return (3 * i + 5) % 16;
  return (7 * i) % 16;
}
/** The rotation of step `i`. */
function shift(i: number): number {
  return rotations[(i >> 4) * 4 + (i & 3)];
}

const get = (name: string) => `(local.get $${name})`;

/**
 * The round function of step `i` over the registers named `b`, `c`, `d`: F and G are one
 * `bitselect` each (F = b ? c : d bitwise, G = d ? b : c).
 */
function roundFunction(i: number, b: string, c: string, d: string): string {
  if (i < 16) return `(v128.bitselect ${get(c)} ${get(d)} ${get(b)})`;
  if (i < 32) return `(v128.bitselect ${get(b)} ${get(c)} ${get(d)})`;
  if (i < 48) return `(v128.xor (v128.xor ${get(b)} ${get(c)}) ${get(d)})`;
  return `(v128.xor ${get(c)} (v128.or ${get(b)} (v128.not ${get(d)})))`;
}

/** The byte indices of an `i8x16.shuffle` taking the 32-bit lanes `order` of its two inputs. */
function laneShuffle(order: number[]): string {
  return order.flatMap((lane) => [lane * 4, lane * 4 + 1, lane * 4 + 2, lane * 4 + 3]).join(" ");
}

/**
 * Transposes 4 × 4 words: from the 16 bytes at offset `16q` of each of four lanes' blocks, the
 * words `x[4q]` … `x[4q + 3]` of group `g`, each holding that word of all four lanes.
 */
function transposeQuarter(g: number, q: number): string[] {
  const rows = [0, 1, 2, 3].map((k) => `(v128.load offset=${q * 16} ${get(`o${g * 4 + k}`)})`);
  const pairs: [string, number[], string, string][] = [
    ["p0", [0, 4, 1, 5], rows[0], rows[1]],
    ["p1", [2, 6, 3, 7], rows[0], rows[1]],
    ["p2", [0, 4, 1, 5], rows[2], rows[3]],
    ["p3", [2, 6, 3, 7], rows[2], rows[3]],
    [`x${g}_${q * 4}`, [0, 1, 4, 5], get("p0"), get("p2")],
    [`x${g}_${q * 4 + 1}`, [2, 3, 6, 7], get("p0"), get("p2")],
    [`x${g}_${q * 4 + 2}`, [0, 1, 4, 5], get("p1"), get("p3")],
    [`x${g}_${q * 4 + 3}`, [2, 3, 6, 7], get("p1"), get("p3")],
  ];
  return pairs.map(([target, order, left, right]) =>
    `(local.set $${target} (i8x16.shuffle ${laneShuffle(order)} ${left} ${right}))`
  );
}

/** One exported function hashing `groups` × 4 lanes. */
function md5Function(groups: number): string[] {
  const lanes = groups * 4;
  const lines: string[] = [];
  lines.push(
    `  (func (export "md5x${lanes}") (param $header i32) (param $blocks i32) (param $out i32)`,
  );
  const vectors: string[] = ["p0", "p1", "p2", "p3"];
  for (let g = 0; g < groups; g++) {
    for (const name of ["a", "b", "c", "d", "aa", "bb", "cc", "dd", "t", "counts", "mask"]) {
      vectors.push(`${name}${g}`);
    }
    for (let w = 0; w < 16; w++) vectors.push(`x${g}_${w}`);
  }
  lines.push(`    ${vectors.map((name) => `(local $${name} v128)`).join(" ")}`);
  const offsets = Array.from({ length: lanes }, (_, l) => `(local $o${l} i32)`);
  lines.push(`    (local $blk i32) ${offsets.join(" ")}`);
  const initial = { a: "0x67452301", b: "0xefcdab89", c: "0x98badcfe", d: "0x10325476" };
  for (let g = 0; g < groups; g++) {
    for (const [name, value] of Object.entries(initial)) {
      lines.push(
        `    (local.set $${name}${g} (v128.const i32x4 ${value} ${value} ${value} ${value}))`,
      );
    }
    lines.push(
      `    (local.set $counts${g} (v128.load offset=${4 * lanes + 16 * g} ${get("header")}))`,
    );
  }
  lines.push(`    (block $done (loop $next`);
  lines.push(`      (br_if $done (i32.ge_u ${get("blk")} ${get("blocks")}))`);
  for (let g = 0; g < groups; g++) {
    lines.push(
      `      (local.set $mask${g} (i32x4.gt_s ${get(`counts${g}`)} (i32x4.splat ${get("blk")})))`,
    );
    // Each lane's block; a lane that is done re-reads its first (its result is masked out).
    for (let k = 0; k < 4; k++) {
      const l = g * 4 + k;
      const count = `(i32.load offset=${4 * (lanes + l)} ${get("header")})`;
      lines.push(
        `      (local.set $o${l} (i32.add (i32.load offset=${4 * l} ${
          get("header")
        }) (select (i32.shl ${get("blk")} (i32.const 6)) (i32.const 0) (i32.lt_u ${
          get("blk")
        } ${count}))))`,
      );
    }
    for (let q = 0; q < 4; q++) {
      lines.push(...transposeQuarter(g, q).map((line) => `      ${line}`));
    }
    for (const name of ["a", "b", "c", "d"]) {
      lines.push(`      (local.set $${name}${name}${g} ${get(`${name}${g}`)})`);
    }
  }
  // The groups' steps side by side, so that each group's step fills the others' waits.
  const registers = Array.from(
    { length: groups },
    (_, g) => ["a", "b", "c", "d"].map((r) => r + g),
  );
  for (let i = 0; i < 64; i++) {
    const t = sines[i] | 0;
    const s = shift(i);
    for (let g = 0; g < groups; g++) {
      const [a, b, c, d] = registers[g];
      lines.push(
        `      (local.set $t${g} (i32x4.add (i32x4.add (i32x4.add ${get(a)} ${
          roundFunction(i, b, c, d)
        }) ${get(`x${g}_${wordIndex(i)}`)}) (v128.const i32x4 ${t} ${t} ${t} ${t})))`,
      );
      lines.push(
        `      (local.set $${a} (i32x4.add ${get(b)} (v128.or (i32x4.shl ${
          get(`t${g}`)
        } (i32.const ${s})) (i32x4.shr_u ${get(`t${g}`)} (i32.const ${32 - s})))))`,
      );
      registers[g] = [d, a, b, c];
    }
  }
  for (let g = 0; g < groups; g++) {
    for (const name of ["a", "b", "c", "d"]) {
      const [state, saved] = [`${name}${g}`, `${name}${name}${g}`];
      lines.push(
        `      (local.set $${state} (v128.bitselect (i32x4.add ${get(state)} ${get(saved)}) ${
          get(saved)
        } ${get(`mask${g}`)}))`,
      );
    }
  }
  lines.push(`      (local.set $blk (i32.add ${get("blk")} (i32.const 1)))`);
  lines.push(`      (br $next)))`);
  for (let g = 0; g < groups; g++) {
    ["a", "b", "c", "d"].forEach((name, k) => {
      lines.push(`    (v128.store offset=${(g * 4 + k) * 16} ${get("out")} ${get(name + g)})`);
    });
  }
  lines.push(`  )`);
  return lines;
}

/** The module's text (WAT): memory, `md5x4`, `md5x8` and `md5x12`. */
export function md5LanesWat(): string {
  const functions = laneGroupCounts.flatMap((groups) => md5Function(groups));
  return [`(module`, `  (memory (export "memory") 1)`, ...functions, `)`].join("\n");
}
/** The module's bytes. */
export async function buildMd5LanesWasm(): Promise<Uint8Array> {
  const wabt = await wabtInit();
  const parsed = wabt.parseWat("md5_lanes.wat", md5LanesWat(), { simd: true });
  try {
    return new Uint8Array(parsed.toBinary({}).buffer);
  } finally {
    parsed.destroy();
  }
}

/** The text of `md5_lanes_wasm.ts` for `bytes`. */
export function md5LanesWasmModule(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  const base64 = btoa(binary);
  const lines: string[] = [];
  for (let at = 0; at < base64.length; at += 96) lines.push(`  "${base64.slice(at, at + 96)}"`);
  return [
    "/**",
    " * The WebAssembly module of `md5_lanes.ts` (4, 8 or 12 MD5s at once), base64. Generated by",
    " * `_md5_lanes_gen.ts` (its doc says how); `md5_lanes_test.ts` checks the two agree. Do not edit.",
    " *",
    " * @module",
    " */",
    "export const md5LanesWasmBase64 =",
    lines.join(" +\n") + ";",
    "",
  ].join("\n");
}

if (import.meta.main) {
  const target = new URL("./md5_lanes_wasm.ts", import.meta.url);
  await Deno.writeTextFile(target, md5LanesWasmModule(await buildMd5LanesWasm()));
  console.log(`wrote ${target.pathname}`);
}
