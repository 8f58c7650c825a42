/**
 * Node configuration from flags and `CMQD_*` environment variables (flags win). Pure: `main.ts`
 * passes `Deno.args` and the environment in.
 *
 * @module
 */

/** The resolved configuration of one node. */
export interface NodeConfig {
  host: string;
  port: number;
  dataDir: string;
  nodeId: string;
  /** Read segments through mmap (FFI); false forces plain reads. */
  mmap: boolean;
  help: boolean;
}

interface FlagSpec {
  key: keyof NodeConfig;
  env: string;
  kind: "string" | "port" | "boolean";
  help: string;
}

const flags: Record<string, FlagSpec> = {
  "--host": { key: "host", env: "CMQD_HOST", kind: "string", help: "address to listen on" },
  "--port": { key: "port", env: "CMQD_PORT", kind: "port", help: "client HTTP port (0 = any)" },
  "--data-dir": { key: "dataDir", env: "CMQD_DATA_DIR", kind: "string", help: "data directory" },
  "--node-id": { key: "nodeId", env: "CMQD_NODE_ID", kind: "string", help: "this node's id" },
  "--mmap": { key: "mmap", env: "CMQD_MMAP", kind: "boolean", help: "read segments via mmap" },
};

const defaults: NodeConfig = {
  host: "127.0.0.1",
  port: 9876,
  dataDir: "./data",
  nodeId: "n1",
  mmap: true,
  help: false,
};

/** The `--help` text. */
export const usage = [
  "usage: cmqd [flags]   (every flag also as an environment variable)",
  ...Object.entries(flags).map(([flag, spec]) =>
    `  ${(flag + " " + (spec.kind === "boolean" ? "true|false" : "VALUE")).padEnd(22)} ${
      spec.env.padEnd(14)
    } ${spec.help} (default ${defaults[spec.key]})`
  ),
].join("\n");

function convert(spec: FlagSpec, raw: string, source: string): string | number | boolean {
  if (spec.kind === "port") {
    const port = Number(raw);
    if (!/^\d+$/.test(raw) || port > 65_535) throw new Error(`${source}: not a port: '${raw}'`);
    return port;
  }
  if (spec.kind === "boolean") {
    if (raw !== "true" && raw !== "false") throw new Error(`${source}: expected true or false`);
    return raw === "true";
  }
  if (raw === "") throw new Error(`${source}: empty value`);
  return raw;
}

/**
 * Parses flags (`--port 1`, `--port=1`) over environment variables over defaults.
 *
 * @example
 * ```ts
 * parseConfig(["--port", "9000"], {}).port; // 9000
 * ```
 */
export function parseConfig(args: string[], env: Record<string, string>): NodeConfig {
  const config: Record<string, unknown> = { ...defaults };
  for (const spec of Object.values(flags)) {
    const raw = env[spec.env];
    if (raw !== undefined) config[spec.key] = convert(spec, raw, spec.env);
  }
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--help" || arg === "-h") {
      config.help = true;
      continue;
    }
    const [name, inline] = arg.includes("=") ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    const spec = flags[name];
    if (!spec) throw new Error(`unknown flag '${name}'`);
    const raw = inline ?? args[++i];
    if (raw === undefined) throw new Error(`${name} needs a value`);
    config[spec.key] = convert(spec, raw, name);
  }
  return config as unknown as NodeConfig;
}
