/**
 * Command-line entry point: `deno run -A cli.ts <command>`.
 *
 * - `train`: trains CNN-F and/or the plain CNN from a preset, then prints the
 *   evaluation table (and writes checkpoints, metrics.jsonl, results.json and
 *   report.html to `--out`).
 * - `eval`: the evaluation table of saved weights.
 * - `attack`: one attack of the suite against saved weights.
 * - `info`: runtime, backend and adapter.
 *
 * Progress goes to stderr (redrawn in place on a terminal), results to
 * stdout (`--json` for one machine-readable object). Bad usage exits with 2,
 * failures with 1.
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
  type MemoryStats,
  memoryStats,
} from "./tensor/mod.ts";
import { webgpuBackend } from "./tensor/engine.ts";
import { cpuInfo } from "./tensor/wasm/mod.ts";
import {
  CONFIG_FLAGS,
  configFromFlags,
  type Flags,
  UsageError,
} from "./train/flags.ts";
import {
  EXTRA_ATTACKS,
  formatTable,
  REFERENCE_COLUMNS,
} from "./train/evaluate.ts";
import { ATTACK_NAMES } from "./train/config.ts";
import { describePlan, RunClock } from "./train/plan.ts";
import { type ProgressEvent, ProgressPrinter } from "./train/progress.ts";
import { checkResume, RESUME_ALLOWED } from "./train/resume.ts";
import { runTraining } from "./train/run.ts";
import { ensureRuntimeDir } from "./train/runtime_dir.ts";
import { evaluateSaved, runAttack, savedConfig } from "./train/saved.ts";

function parse(argv: string[], options: ParseArgsConfig["options"]): Flags {
  try {
    return parseArgs({ args: argv, options, strict: true }).values as Flags;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

const COMMON_FLAGS: ParseArgsConfig["options"] = {
  ...Object.fromEntries(
    Object.keys(CONFIG_FLAGS).map((k) => [k, { type: "string" as const }]),
  ),
  preset: { type: "string" },
  threads: { type: "string" },
  adversarial: { type: "boolean" },
  standard: { type: "boolean" },
  json: { type: "boolean" },
  quiet: { type: "boolean", short: "q" },
  help: { type: "boolean", short: "h" },
};

const TRAIN_USAGE =
  `usage: deno run -A cli.ts train [--preset quick|fmnist-paper|cifar10-paper] [options]

Trains CNN-F (and the plain CNN of the same architecture) and prints the
evaluation table. Every preset value can be overridden:

  --preset NAME         quick (default, ~10 min on 2 CPU cores), fmnist-paper,
                        cifar10-paper (the reference's settings)
  --dataset fashion|cifar10   --data DIR (Fashion-MNIST IDX or CIFAR-10 binary)
  --models cnnf,cnn     which models to train
  --epochs N --batch-size N --lr X --momentum X --wd X --grad-clip X (0 = off)
  --schedule poly|cos --power X
  --adversarial | --standard   PGD adversarial training on the first pass or not
  --eps X --eps-iter X --nb-iter N    PGD (training and evaluation)
  --max-cycles N --ind N --res-param X --mse-param X --clean-param X
  --layers N --widen-factor N   (CIFAR-10 Wide ResNet)
  --seed N --backend auto|cpu|webgpu --out DIR
  --threads N           CPU backend threads (default: every core; results
                        are the same bits whatever the count)
  --train-limit N --test-limit N   use a random subset (0 = all)
  --max-steps N         stop after N optimizer steps (checkpoint saved)
  --resume              continue from the checkpoints in --out (refused,
                        with the differences, when the configuration differs)
  --allow-change LIST   on --resume, accept new values of: ${
    RESUME_ALLOWED.join(", ")
  } (--epochs extends a run; its schedule is then recomputed)
  --test average|last   decision rule of the evaluation
  --attacks LIST        columns: ${
    [...REFERENCE_COLUMNS, ...EXTRA_ATTACKS].join(",")
  }
  --spsa-limit N --spsa-samples N
  --json                one JSON object on stdout
  -q, --quiet           no progress
  -h, --help            this help

Ctrl-C or SIGTERM saves a checkpoint after the current step and exits with
130 or 143; a second Ctrl-C quits at once. Run again with --resume.`;

const EVAL_USAGE = `usage: deno run -A cli.ts eval --weights DIR|FILE [options]

Prints the evaluation table of saved weights (the cnnf.safetensors and
cnn.safetensors a training run writes, or any safetensors file with the
reference's state_dict names). Model and attack settings come from the run
(results.json in its folder, else the weights' metadata), else --preset;
the same flags as train override them (--max-cycles, --ind, --eps,
--nb-iter, --test, --attacks, --test-limit, --data, --backend, ...), plus:
  --weights DIR|FILE    a run's folder, or one weights file (its metadata
                        says which model; converted reference weights: CNN-F)
  --json, -q, -h`;

const ATTACK_USAGE =
  `usage: deno run -A cli.ts attack --weights FILE --attack NAME [options]

Runs one attack against saved weights and prints robust accuracy for each
attack target (first pass, end to end on the last logits, end to end on the
averaged logits). NAME: ${ATTACK_NAMES.join(", ")}. Settings as for eval:
from the run that wrote the weights, overridden by flags (--eps,
--eps-iter, --nb-iter, --test-limit, --max-cycles, --ind, --data,
--backend, ...), plus:
  --weights FILE --attack NAME -q -h
  --json                one object: config, cells with perExample arrays`;

const INFO_USAGE =
  `usage: deno run -A cli.ts info [--backend auto|cpu|webgpu] [--threads N] [--json]

  --backend   backend to select (default: auto = WebGPU on a hardware
              adapter, CPU when the only adapter is a software fallback)
  --threads   CPU backend threads (default: every core)
  --json      print one JSON object instead of text
  -h, --help  show this help`;

const USAGE = `usage: deno run -A cli.ts <command> [options]

commands:
  train     train CNN-F and the plain CNN, print the evaluation table
  eval      evaluation table of saved weights
  attack    one attack against saved weights
  info      Deno version, chosen backend, WebGPU adapter, limits and features

run 'cli.ts <command> --help' for a command's options.`;

// Types `info` mentions, so the ./cli entry documents on its own.
export type { AdapterSummary, BackendChoice, MemoryStats };
export type { BackendName } from "./tensor/backend.ts";

/** Everything `info` reports. */
export interface InfoReport {
  /** Deno, V8 and TypeScript versions. */
  deno: { deno: string; v8: string; typescript: string };
  /** Backend `auto` (or the requested one) chose. */
  backend: string;
  /** Why that backend: requested, or what `auto` found. */
  reason: string;
  /** The WebGPU adapter, or null when none is available. */
  adapter: AdapterSummary | null;
  /** Storage counters of the chosen backend. */
  memory: MemoryStats;
  /**
   * The CPU backend's kernels: WebAssembly (and which features) or the
   * plain-JavaScript reference, and how many threads they use.
   */
  cpu: CpuKernels;
}

/** What the CPU backend's kernels run on. */
export interface CpuKernels {
  /** WebAssembly SIMD kernels (false: the plain-JavaScript reference). */
  wasm: boolean;
  /** Threads the kernels use (this one and the workers). */
  threads: number;
  /** Cores the runtime reports. */
  cores: number;
  /** relaxed-SIMD fused multiply-add in the GEMM. */
  relaxedSimd: boolean;
  /** Memory shared with the workers (needed for more than one thread). */
  sharedMemory: boolean;
}

function cpuKernels(): CpuKernels {
  const c = cpuInfo();
  return {
    wasm: c.wasm,
    threads: c.threads,
    cores: navigator.hardwareConcurrency,
    relaxedSimd: c.features.relaxed,
    sharedMemory: c.features.shared,
  };
}

/** One line on the CPU kernels, e.g. "WebAssembly SIMD (relaxed FMA), 2 threads of 2 cores". */
function describeCpu(c: CpuKernels): string {
  if (!c.wasm) return "plain JavaScript (no WebAssembly SIMD), 1 thread";
  return `WebAssembly SIMD${
    c.relaxedSimd ? " (relaxed FMA)" : ""
  }, ${c.threads} thread${c.threads === 1 ? "" : "s"} of ${c.cores} cores${
    c.sharedMemory ? "" : " (no shared memory)"
  }`;
}

/**
 * Collects the `info` report.
 * @example
 * ```ts
 * import { info } from "@cnnf/webgpu/cli";
 * import assert from "node:assert/strict";
 * const report = await info("cpu");
 * assert.equal(report.backend, "cpu");
 * assert.equal(report.deno.deno, Deno.version.deno);
 * assert.equal(typeof report.memory.liveBuffers, "number");
 * ```
 */
export async function info(
  backend: BackendChoice,
  threads?: number,
): Promise<InfoReport> {
  const adapter = await requestAdapter();
  const chosen = await init({ backend, threads });
  if (chosen === "webgpu") await webgpuBackend();
  const summary = adapter ? summarizeAdapter(adapter) : null;
  return {
    deno: Deno.version,
    backend: chosen,
    reason: backendReason(backend, summary),
    adapter: summary,
    memory: memoryStats(),
    cpu: cpuKernels(),
  };
}

/** One line on why a backend was chosen. */
function backendReason(
  requested: BackendChoice,
  a: AdapterSummary | null,
): string {
  if (requested !== "auto") return `requested with --backend ${requested}`;
  if (!a) return "auto: no WebGPU adapter found, so the CPU backend";
  return a.isFallbackAdapter
    ? `auto: the only WebGPU adapter, ${a.description}, is a software fallback, slower than the CPU backend`
    : `auto: hardware WebGPU adapter ${a.description}`;
}

function formatInfo(r: InfoReport): string {
  const lines = [
    `deno         ${r.deno.deno} (v8 ${r.deno.v8}, typescript ${r.deno.typescript})`,
    `backend      ${r.backend} (${r.reason})`,
    `cpu kernels  ${describeCpu(r.cpu)}`,
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

/** `--threads N`: a positive integer, or undefined (every core). */
function threadsOf(flags: Flags): number | undefined {
  if (flags.threads === undefined) return undefined;
  const t = String(flags.threads);
  const n = Number(t);
  if (!/^[0-9]+$/.test(t) || n < 1 || n > 256) {
    throw new UsageError(
      `--threads: must be an integer from 1 to 256, got '${t}'`,
    );
  }
  return n;
}

function backendOf(flags: Flags): BackendChoice {
  const b = String(flags.backend ?? "auto");
  if (!["auto", "cpu", "webgpu"].includes(b)) {
    throw new UsageError(`--backend: must be auto, cpu or webgpu, got '${b}'`);
  }
  return b as BackendChoice;
}

async function adapterLine(
  backend: string,
  requested: BackendChoice,
): Promise<string> {
  const a = await requestAdapter();
  const desc = a ? summarizeAdapter(a) : null;
  const kernels = backend === "cpu" ? `; ${describeCpu(cpuKernels())}` : "";
  return `backend ${backend} (${backendReason(requested, desc)})${kernels}`;
}

async function runInfo(argv: string[]): Promise<number> {
  const values = parse(argv, {
    backend: { type: "string" },
    threads: { type: "string" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(INFO_USAGE);
    return 0;
  }
  const report = await info(backendOf(values), threadsOf(values));
  console.log(values.json ? JSON.stringify(report) : formatInfo(report));
  return 0;
}

/** An evaluation progress report as a progress event of the run's plan. */
function evalEvent(
  label: string,
  p: { done: number; total: number; robust: number; attack?: string },
): ProgressEvent {
  return {
    label,
    done: p.done,
    total: p.total,
    unit: "img",
    phase: p.attack ? `eval ${p.attack}` : undefined,
    phaseDone: p.done,
    fields: { robust: p.robust },
  };
}

const SIGNAL_CODES = { SIGINT: 130, SIGTERM: 143 } as const;
type StopSignal = keyof typeof SIGNAL_CODES;

/**
 * SIGINT and SIGTERM: the first asks the run to stop after the current step
 * (checkpoint written), a second quits at once. During the final evaluation
 * there is nothing to save, so the first quits at once too.
 */
class Interrupts {
  signal: StopSignal | null = null;
  evaluating = false;
  #handlers: [StopSignal, () => void][] = [];

  constructor(progress: ProgressPrinter, out: string) {
    for (const sig of ["SIGINT", "SIGTERM"] as const) {
      const h = () => {
        if (this.signal || this.evaluating) {
          progress.log(
            this.evaluating
              ? `${sig}: evaluation stopped; the trained weights are in ${out} (cli.ts eval --weights ${out} evaluates them)`
              : `${sig}: quitting now; the last checkpoint in ${out} stays valid`,
          );
          Deno.exit(SIGNAL_CODES[sig]);
        }
        this.signal = sig;
        progress.log(
          `${sig}: saving a checkpoint after this step${
            sig === "SIGINT" ? " (Ctrl-C again to quit now)" : ""
          }`,
        );
      };
      try {
        Deno.addSignalListener(sig, h);
        this.#handlers.push([sig, h]);
      } catch { /* no such signal on this platform */ }
    }
  }

  /** Removes the listeners. */
  close(): void {
    for (const [sig, h] of this.#handlers) Deno.removeSignalListener(sig, h);
  }
}

async function runTrain(argv: string[]): Promise<number> {
  const flags = parse(argv, {
    ...COMMON_FLAGS,
    resume: { type: "boolean" },
    "allow-change": { type: "string" },
  });
  if (flags.help) {
    console.log(TRAIN_USAGE);
    return 0;
  }
  // Everything is checked before data is read or a step runs.
  const cfg = configFromFlags(flags);
  const threads = threadsOf(flags);
  const allow = String(flags["allow-change"] ?? "").split(",").map((a) =>
    a.trim()
  ).filter(Boolean);
  if (allow.length && !flags.resume) {
    throw new UsageError("--allow-change: only with --resume");
  }
  const stepsDone = flags.resume ? await checkResume(cfg, allow) : {};
  const backend = await init({
    backend: cfg.backend,
    seed: cfg.seed,
    threads,
  });
  let clock: RunClock | null = null;
  const progress = new ProgressPrinter({
    quiet: Boolean(flags.quiet),
    runEta: () => clock?.eta() ?? NaN,
  });
  const show = (e: ProgressEvent) => {
    if (e.phase && e.phaseDone !== undefined) {
      clock?.advance(e.phase, e.phaseDone);
    }
    progress.update(e);
  };
  const about = [
    `command: cli.ts train ${argv.join(" ")}`.trim(),
    await adapterLine(backend, cfg.backend),
  ];
  progress.log(about[1]);
  const interrupts = new Interrupts(progress, cfg.out);
  const t0 = performance.now();
  try {
    const r = await runTraining(cfg, {
      onProgress: show,
      onLog: (l) => progress.log(l),
      onPlan: (phases) => {
        clock = new RunClock(phases);
        for (const line of describePlan(phases, cfg)) progress.log(line);
        progress.log(
          "plan: the whole-run ETA ('run eta') follows the first step and is re-estimated as phases are measured",
        );
        clock.start();
      },
      onEvaluate: () => (interrupts.evaluating = true),
      onEpoch: (m) =>
        progress.log(
          `${m.model} epoch ${m.epoch}: loss ${m.loss.toFixed(4)}  train acc ${
            (100 * m.trainAcc).toFixed(2)
          }%  test acc ${(100 * m.testAcc).toFixed(2)}%  ${
            m.imagesPerSec.toFixed(1)
          } img/s`,
        ),
      onEvalProgress: (p) => show(evalEvent(`eval ${p.attack}`, p)),
      shouldStop: () => interrupts.signal !== null,
    }, { resume: Boolean(flags.resume), about, stepsDone });
    progress.done();
    const seconds = (performance.now() - t0) / 1000;
    const code = !r.finished && interrupts.signal
      ? SIGNAL_CODES[interrupts.signal]
      : 0;
    if (flags.json) {
      console.log(JSON.stringify({ config: cfg, backend, seconds, ...r }));
    } else if (!r.finished) {
      const again = ["deno run -A cli.ts train", ...argv, "--resume"].filter((
        a,
        i,
        all,
      ) => a !== "--resume" || i === all.length - 1);
      console.log(
        `${
          interrupts.signal ? `interrupted (${interrupts.signal})` : "stopped"
        } after ${
          Object.values(r.steps).reduce((a, b) => a + b, 0)
        } steps; checkpoints in ${cfg.out}; resume with: ${again.join(" ")}`,
      );
      for (const [k, s] of Object.entries(r.secondsPerStep)) {
        console.log(
          `${k}: ${s.toFixed(3)} s/step, projected epoch ${
            (s * r.batchesPerEpoch / 60).toFixed(1)
          } min (${r.batchesPerEpoch} steps)`,
        );
      }
    } else {
      console.log(
        `data: ${r.dataSource} (${r.counts.train} train, ${r.counts.test} test); ${backend} backend; ${
          (seconds / 60).toFixed(1)
        } min`,
      );
      console.log(
        formatTable(r.table, [...REFERENCE_COLUMNS, ...EXTRA_ATTACKS]),
      );
      console.log(`report: ${cfg.out}/report.html`);
    }
    return code;
  } finally {
    interrupts.close();
  }
}

/** The saved run's settings, merged under the flags; says where they came from. */
async function savedSettings(
  flags: Flags,
  progress: ProgressPrinter,
): Promise<ReturnType<typeof configFromFlags>> {
  const path = String(flags.weights);
  // Flags are checked before any file is read.
  configFromFlags(flags);
  const base = flags.preset === undefined ? await savedConfig(path) : null;
  const cfg = configFromFlags(flags, base);
  progress.log(
    base
      ? `settings: as ${path} was trained (preset ${cfg.preset}), with the flags given`
      : `settings: preset ${cfg.preset}${
        flags.preset === undefined
          ? ` (${path} does not say how it was trained)`
          : ""
      }, with the flags given`,
  );
  return cfg;
}

async function runEval(argv: string[]): Promise<number> {
  const flags = parse(argv, { ...COMMON_FLAGS, weights: { type: "string" } });
  if (flags.help) {
    console.log(EVAL_USAGE);
    return 0;
  }
  if (!flags.weights) {
    throw new UsageError(
      "--weights: required (a run's folder or a weights file)",
    );
  }
  const threads = threadsOf(flags);
  const progress = new ProgressPrinter({ quiet: Boolean(flags.quiet) });
  const cfg = await savedSettings(flags, progress);
  const backend = await init({
    backend: cfg.backend,
    seed: cfg.seed,
    threads,
  });
  const r = await evaluateSaved(
    String(flags.weights),
    cfg,
    (p) => progress.update(evalEvent(`eval ${p.attack}`, p)),
  );
  progress.done();
  if (flags.json) console.log(JSON.stringify({ config: cfg, backend, ...r }));
  else {
    console.log(
      `data: ${r.dataSource} (${r.examples} test); ${backend} backend`,
    );
    console.log(formatTable(r.table, [...REFERENCE_COLUMNS, ...EXTRA_ATTACKS]));
  }
  return 0;
}

async function runAttackCmd(argv: string[]): Promise<number> {
  const flags = parse(argv, {
    ...COMMON_FLAGS,
    weights: { type: "string" },
    attack: { type: "string" },
  });
  if (flags.help) {
    console.log(ATTACK_USAGE);
    return 0;
  }
  const name = String(flags.attack ?? "pgd");
  if (!ATTACK_NAMES.includes(name)) {
    throw new UsageError(
      `--attack: unknown attack '${name}' (${ATTACK_NAMES.join(", ")})`,
    );
  }
  if (!flags.weights) {
    throw new UsageError("--weights: required (a weights file)");
  }
  const threads = threadsOf(flags);
  const progress = new ProgressPrinter({ quiet: Boolean(flags.quiet) });
  const cfg = await savedSettings(flags, progress);
  const backend = await init({
    backend: cfg.backend,
    seed: cfg.seed,
    threads,
  });
  const r = await runAttack(
    String(flags.weights),
    name,
    cfg,
    (p) => progress.update(evalEvent(`${name} ${p.target}`, p)),
  );
  progress.done();
  if (flags.json) {
    console.log(JSON.stringify({
      backend,
      attack: name,
      config: cfg,
      examples: r.examples,
      cells: r.cells.map((c) => ({
        ...c,
        perExample: Array.from(c.perExample),
      })),
    }));
  } else {
    console.log(
      `${name} eps ${cfg.eps} on ${r.examples} examples (${backend} backend):`,
    );
    for (const c of r.cells) {
      console.log(
        `  ${c.target.padEnd(10)} robust accuracy ${
          (100 * c.robustAccuracy).toFixed(2)
        }%  (${c.meanQueries.toFixed(0)} queries/example)`,
      );
    }
  }
  const nonFinite = Math.max(0, ...r.cells.map((c) => c.nonFinite));
  if (nonFinite) {
    console.error(
      `warning: ${nonFinite} example(s) had NaN or infinite inputs; their results mean nothing`,
    );
  }
  return 0;
}

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  train: runTrain,
  eval: runEval,
  attack: runAttackCmd,
  info: runInfo,
};

/**
 * Runs the CLI; returns the exit code.
 * @example Exit codes: 0 done, 2 bad usage
 * ```ts
 * import { main } from "@cnnf/webgpu/cli";
 * import assert from "node:assert/strict";
 * assert.equal(await main(["info", "--help"]), 0); // usage on stdout
 * assert.equal(await main(["fly"]), 2); // "unknown command 'fly'" on stderr
 * ```
 */
export async function main(argv: string[]): Promise<number> {
  // Before anything asks for a WebGPU adapter: no XDG_RUNTIME_DIR noise.
  ensureRuntimeDir();
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === "-h" || cmd === "--help") {
    console.log(USAGE);
    return cmd ? 0 : 2;
  }
  const run = COMMANDS[cmd] as
    | ((argv: string[]) => Promise<number>)
    | undefined;
  try {
    if (!run) {
      throw new UsageError(
        `unknown command '${cmd}' (train, eval, attack, info)`,
      );
    }
    return await run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(
        `error: ${e.message}\nrun 'cli.ts ${
          run ? cmd + " " : ""
        }--help' for usage`,
      );
      return 2;
    }
    console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

if (import.meta.main) {
  // Exit now: the CPU backend's workers end themselves only after an idle
  // second, which a finished command should not wait for.
  Deno.exit(await main(Deno.args));
}
