/**
 * Builds `md5_lanes_wasm.ts`: the WebAssembly module of `md5_lanes.ts`, written out here as text
 * (WAT) and assembled with `wabt`. Test-only: the product carries the assembled bytes, and
 * `md5_lanes_test.ts` checks that they are what this file builds.
 *
 * The module exports its `memory` and `md5x4(base0, base1, base2, base3, blocks0, blocks1,
 * blocks2, blocks3, blocksMax, out)`: four MD5s at once, lane `l` over the `blocksL` padded
 * 64-byte blocks at `baseL` (the caller pads, RFC 1321 §3.1–3.2), each lane's state in one 32-bit
 * lane of four `v128` registers. A lane whose blocks are done keeps its state (a mask per block)
 * and re-reads its first block. The four digests (A, B, C, D, each as four lanes) go to `out`.
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

/**
 * The round function of step `i` over the registers named `b`, `c`, `d`: F and G are one
 * `bitselect` each (F = b ? c : d bitwise, G = d ? b : c).
 */
function roundFunction(i: number, b: string, c: string, d: string): string {
  const g = (n: string) => `(local.get $${n})`;
  if (i < 16) return `(v128.bitselect ${g(c)} ${g(d)} ${g(b)})`;
  if (i < 32) return `(v128.bitselect ${g(b)} ${g(c)} ${g(d)})`;
  if (i < 48) return `(v128.xor (v128.xor ${g(b)} ${g(c)}) ${g(d)})`;
  return `(v128.xor ${g(c)} (v128.or ${g(b)} (v128.not ${g(d)})))`;
}
/** The module's text (WAT): memory, and `md5x4`. */
export function md5LanesWat(): string {
  const lines: string[] = [];
  lines.push(`(module`);
  lines.push(`  (memory (export "memory") 1)`);
  lines.push(
    `  (func (export "md5x4") (param $base0 i32) (param $base1 i32) (param $base2 i32) (param $base3 i32)`,
  );
  lines.push(
    `    (param $n0 i32) (param $n1 i32) (param $n2 i32) (param $n3 i32) (param $blocks i32) (param $out i32)`,
  );
  const locals = [
    "a",
    "b",
    "c",
    "d",
    "aa",
    "bb",
    "cc",
    "dd",
    "t",
    "counts",
    "mask",
    ...Array.from({ length: 16 }, (_, i) => `x${i}`),
  ];
  lines.push(`    ${locals.map((l) => `(local $${l} v128)`).join(" ")}`);
  lines.push(
    `    (local $blk i32) (local $o0 i32) (local $o1 i32) (local $o2 i32) (local $o3 i32)`,
  );
  lines.push(`    (local.set $a (v128.const i32x4 0x67452301 0x67452301 0x67452301 0x67452301))`);
  lines.push(`    (local.set $b (v128.const i32x4 0xefcdab89 0xefcdab89 0xefcdab89 0xefcdab89))`);
  lines.push(`    (local.set $c (v128.const i32x4 0x98badcfe 0x98badcfe 0x98badcfe 0x98badcfe))`);
  lines.push(`    (local.set $d (v128.const i32x4 0x10325476 0x10325476 0x10325476 0x10325476))`);
  lines.push(
    `    (local.set $counts (i32x4.replace_lane 3 (i32x4.replace_lane 2 (i32x4.replace_lane 1 (i32x4.splat (local.get $n0)) (local.get $n1)) (local.get $n2)) (local.get $n3)))`,
  );
  lines.push(`    (block $done (loop $next`);
  lines.push(`      (br_if $done (i32.ge_u (local.get $blk) (local.get $blocks)))`);
  lines.push(
    `      (local.set $mask (i32x4.gt_s (local.get $counts) (i32x4.splat (local.get $blk))))`,
  );
  // Each lane's block; a lane that is done re-reads its first (its result is masked out).
  for (let l = 0; l < 4; l++) {
    lines.push(
      `      (local.set $o${l} (i32.add (local.get $base${l}) (select (i32.shl (local.get $blk) (i32.const 6)) (i32.const 0) (i32.lt_u (local.get $blk) (local.get $n${l})))))`,
    );
  }
  // Four words of each lane at a time, transposed so that x[w] holds word w of every lane.
  const lanes = (k: number[]) =>
    k.flatMap((lane) => [lane * 4, lane * 4 + 1, lane * 4 + 2, lane * 4 + 3]).join(" ");
  for (let q = 0; q < 4; q++) {
    const off = q * 16;
    const r = [0, 1, 2, 3].map((l) => `(v128.load offset=${off} (local.get $o${l}))`);
    const aa = "(local.get $aa)",
      bb = "(local.get $bb)",
      cc = "(local.get $cc)",
      dd = "(local.get $dd)";
    const steps: [string, number[], string, string][] = [
      ["aa", [0, 4, 1, 5], r[0], r[1]],
      ["bb", [2, 6, 3, 7], r[0], r[1]],
      ["cc", [0, 4, 1, 5], r[2], r[3]],
      ["dd", [2, 6, 3, 7], r[2], r[3]],
      [`x${q * 4}`, [0, 1, 4, 5], aa, cc],
      [`x${q * 4 + 1}`, [2, 3, 6, 7], aa, cc],
      [`x${q * 4 + 2}`, [0, 1, 4, 5], bb, dd],
      [`x${q * 4 + 3}`, [2, 3, 6, 7], bb, dd],
    ];
    for (const [target, order, left, right] of steps) {
      lines.push(`      (local.set $${target} (i8x16.shuffle ${lanes(order)} ${left} ${right}))`);
    }
  }
  lines.push(
    `      (local.set $aa (local.get $a)) (local.set $bb (local.get $b)) (local.set $cc (local.get $c)) (local.set $dd (local.get $d))`,
  );
  let [a, b, c, d] = ["a", "b", "c", "d"];
  for (let i = 0; i < 64; i++) {
    const t = sines[i] | 0;
    const s = shift(i);
    lines.push(
      `      (local.set $t (i32x4.add (i32x4.add (i32x4.add (local.get $${a}) ${
        roundFunction(i, b, c, d)
      }) (local.get $x${wordIndex(i)})) (v128.const i32x4 ${t} ${t} ${t} ${t})))`,
    );
    lines.push(
      `      (local.set $${a} (i32x4.add (local.get $${b}) (v128.or (i32x4.shl (local.get $t) (i32.const ${s})) (i32x4.shr_u (local.get $t) (i32.const ${
        32 - s
      })))))`,
    );
    [a, b, c, d] = [d, a, b, c];
  }
  for (const [v, o] of [["a", "aa"], ["b", "bb"], ["c", "cc"], ["d", "dd"]]) {
    lines.push(
      `      (local.set $${v} (v128.bitselect (i32x4.add (local.get $${v}) (local.get $${o})) (local.get $${o}) (local.get $mask)))`,
    );
  }
  lines.push(`      (local.set $blk (i32.add (local.get $blk) (i32.const 1)))`);
  lines.push(`      (br $next)))`);
  lines.push(`    (v128.store offset=0 (local.get $out) (local.get $a))`);
  lines.push(`    (v128.store offset=16 (local.get $out) (local.get $b))`);
  lines.push(`    (v128.store offset=32 (local.get $out) (local.get $c))`);
  lines.push(`    (v128.store offset=48 (local.get $out) (local.get $d)))`);
  lines.push(`)`);
  return lines.join("\n");
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
    " * The WebAssembly module of `md5_lanes.ts` (four MD5s at once), base64. Generated by",
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
