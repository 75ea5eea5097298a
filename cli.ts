/**
 * Command-line entry point: `deno run -A cli.ts <command>`. Commands: `info`
 * (runtime, backend and adapter report). Progress goes to stderr, results to
 * stdout; bad usage exits with 2, failures with 1.
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import {
  type AdapterSummary,
  requestAdapter,
  summarizeAdapter,
} from "./gpu/mod.ts";
import {
  type BackendChoice,
  init,
  memoryStats,
  webgpuBackend,
} from "./tensor/mod.ts";

const USAGE = `usage: deno run -A cli.ts <command> [options]

commands:
  info      Deno version, chosen backend, WebGPU adapter, limits and features

run 'cli.ts <command> --help' for a command's options.`;

const INFO_USAGE =
  `usage: deno run -A cli.ts info [--backend auto|cpu|webgpu] [--json]

  --backend   backend to select (default: auto = WebGPU on a hardware
              adapter, CPU when the only adapter is a software fallback)
  --json      print one JSON object instead of text
  -h, --help  show this help`;

/** Everything `info` reports. */
export interface InfoReport {
  /** Deno, V8 and TypeScript versions. */
  deno: { deno: string; v8: string; typescript: string };
  /** Backend `auto` (or the requested one) chose. */
  backend: string;
  /** The WebGPU adapter, or null when none is available. */
  adapter: AdapterSummary | null;
  /** Storage counters of the chosen backend. */
  memory: ReturnType<typeof memoryStats>;
}

/** A usage error: printed with the usage hint, exit code 2. */
export class UsageError extends Error {}

/** Collects the `info` report. */
export async function info(backend: BackendChoice): Promise<InfoReport> {
  const adapter = await requestAdapter();
  const chosen = await init({ backend });
  if (chosen === "webgpu") await webgpuBackend();
  return {
    deno: Deno.version,
    backend: chosen,
    adapter: adapter ? summarizeAdapter(adapter) : null,
    memory: memoryStats(),
  };
}

function formatInfo(r: InfoReport): string {
  const lines = [
    `deno         ${r.deno.deno} (v8 ${r.deno.v8}, typescript ${r.deno.typescript})`,
    `backend      ${r.backend}`,
  ];
  if (!r.adapter) lines.push("adapter      none (WebGPU unavailable)");
  else {
    const a = r.adapter;
    lines.push(
      `adapter      ${a.description}${a.vendor ? ` (vendor ${a.vendor})` : ""}`,
      `fallback     ${
        a.isFallbackAdapter
          ? "yes (software adapter: CPU backend preferred)"
          : "no (hardware)"
      }`,
    );
    for (const [k, v] of Object.entries(a.limits)) {
      lines.push(`limit        ${k} = ${v}`);
    }
    lines.push(`features     ${a.features.join(", ") || "none"}`);
  }
  return lines.join("\n");
}

/** Parsed flag values. */
type Flags = Record<string, string | boolean | undefined>;

/** Strict flag parsing; unknown flags become a UsageError. */
function parse(argv: string[], options: ParseArgsConfig["options"]): Flags {
  try {
    return parseArgs({ args: argv, options, strict: true }).values as Flags;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

async function runInfo(argv: string[]): Promise<number> {
  const values = parse(argv, {
    backend: { type: "string", default: "auto" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  });
  if (values.help) {
    console.log(INFO_USAGE);
    return 0;
  }
  const backend = String(values.backend);
  if (!["auto", "cpu", "webgpu"].includes(backend)) {
    throw new UsageError(
      `--backend must be auto, cpu or webgpu, got '${backend}'`,
    );
  }
  const report = await info(backend as BackendChoice);
  console.log(values.json ? JSON.stringify(report) : formatInfo(report));
  return 0;
}

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  info: runInfo,
};

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === "-h" || cmd === "--help") {
    console.log(USAGE);
    return cmd ? 0 : 2;
  }
  const run = COMMANDS[cmd];
  try {
    if (!run) throw new UsageError(`unknown command '${cmd}'`);
    return await run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`error: ${e.message}\n${USAGE.split("\n")[0]}`);
      return 2;
    }
    console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

if (import.meta.main) {
  Deno.exitCode = await main(Deno.args);
}
