/**
 * Entry of `runtime_load.ts` for Deno and for its Node bundle: runs once, prints one JSON row.
 *
 * @module
 */
import process from "node:process";
import { parseRuntimeArgs, runRuntimeLoad } from "./runtime_load.ts";

const row = await runRuntimeLoad(parseRuntimeArgs(process.argv.slice(2)));
process.stdout.write(JSON.stringify(row) + "\n");
