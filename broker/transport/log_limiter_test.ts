import assert from "node:assert/strict";
import { LogLimiter } from "./peer_io.ts";

Deno.test("LogLimiter passes a window's quota, then counts what it held back under its name", () => {
  const lines: string[] = [];
  let now = 0;
  const limiter = new LogLimiter((line) => lines.push(line), {
    linesPerWindowMax: 2,
    windowMs: 1000,
    now: () => now,
    what: "door reports",
  });
  for (let i = 0; i < 5; i++) limiter.line(`line ${i}`);
  assert.deepEqual(lines, ["line 0", "line 1"]);
  now = 1000;
  limiter.line("line 5");
  assert.deepEqual(lines, [
    "line 0",
    "line 1",
    "(3 door reports suppressed in the last window)",
    "line 5",
  ]);
});

Deno.test("LogLimiter names its lines transport warnings unless told", () => {
  const lines: string[] = [];
  let now = 0;
  const limiter = new LogLimiter((line) => lines.push(line), {
    linesPerWindowMax: 1,
    windowMs: 10,
    now: () => now,
  });
  limiter.line("a");
  limiter.line("b");
  now = 10;
  limiter.line("c");
  assert.deepEqual(lines, ["a", "(1 transport warnings suppressed in the last window)", "c"]);
});
