/**
 * The demo's weights, on the server side: a CNN-F and a plain CNN from a
 * training run's folder (`cnnf.safetensors`, `cnn.safetensors` and the
 * `results.json` that records `ind`, cycles and the residual step), or, when
 * no folder is given and `runs/demo` holds none yet, a short training run of
 * the CLI that makes them.
 *
 * The CLI's files carry every reference alias of a weight (`fcX.linear_t` is
 * a transposed copy), 39 MB for the Fashion-MNIST CNN-F; the page gets each
 * weight once, under the model's own names (13 MB), which
 * `loadReferenceStateDict` accepts as well.
 *
 * @module
 */

import { encodeSafetensors, type HostTensor } from "../nn/safetensors.ts";
import { toHost } from "../nn/state.ts";
import { init } from "../tensor/engine.ts";
import { exists } from "../train/files.ts";
import { savedConfig } from "../train/saved.ts";
import { loadModel } from "./engine.ts";

/** Settings the page builds its models with. */
export interface DemoModelConfig {
  /** Where CNN-F's reconstructions land (0 image, 1, 2 conv blocks). */
  ind: number;
  /** CNN-F's feedback cycles. */
  cycles: number;
  /** Residual step toward the reconstruction. */
  resParam: number;
  /** The run's PGD radius (default ε of the page). */
  eps: number;
  /** Where the weights came from. */
  source: string;
}

/** Both models' weights, re-encoded for the page, and their settings. */
export interface DemoWeights {
  /** Model settings. */
  config: DemoModelConfig;
  /** safetensors bytes of the CNN-F (own parameter names only). */
  cnnf: Uint8Array;
  /** safetensors bytes of the plain CNN. */
  cnn: Uint8Array;
}

/** Flags of the CLI run that makes weights when none are given. */
export const DEMO_TRAIN_FLAGS: readonly string[] = [
  "--standard",
  "--train-limit",
  "2000",
  "--test-limit",
  "100",
  "--attacks",
  "clean",
  "--lr",
  "0.03",
];

/**
 * The run's settings as `cli.ts eval` reads them (results.json, else the
 * weights' metadata; defaults: the paper's).
 */
async function runConfig(dir: string): Promise<DemoModelConfig> {
  const cfg = await savedConfig(dir) ?? {};
  if (cfg.dataset !== undefined && cfg.dataset !== "fashion") {
    throw new Error(
      `${dir}: a ${cfg.dataset} run; the demo shows Fashion-MNIST models`,
    );
  }
  return {
    ind: cfg.ind ?? 2,
    cycles: cfg.maxCycles ?? 1,
    resParam: cfg.resParam ?? 0.1,
    eps: cfg.eps ?? 0.1,
    source: dir,
  };
}

/**
 * Loads one weights file into a model of the given settings (so a file that
 * does not fit fails here, with its path, not in the page) and returns it
 * re-encoded under the model's own names.
 */
async function compact(
  path: string,
  kind: "cnnf" | "cnn",
  c: DemoModelConfig,
): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch {
    throw new Error(`file not found: ${path}`);
  }
  const model = loadModel(bytes, kind, c, path);
  try {
    const own: Record<string, HostTensor> = await toHost(model.stateDict());
    return encodeSafetensors(own, { format: "pt", model: kind });
  } finally {
    model.parameters().forEach((p) => p.dispose());
  }
}

/**
 * Runs the CLI's training into `dir` (a short run: a few thousand images,
 * one epoch), its progress on this process's stderr.
 */
export async function trainDemoWeights(dir: string): Promise<void> {
  const cli = new URL("../cli.ts", import.meta.url).pathname;
  const args = ["run", "-A", cli, "train", "--out", dir, ...DEMO_TRAIN_FLAGS];
  console.error(`demo: no weights in ${dir}; training a pair first:`);
  console.error(`  deno ${args.join(" ")}`);
  const st = await new Deno.Command(Deno.execPath(), {
    args,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!st.success) {
    throw new Error(`training into ${dir} failed (exit code ${st.code})`);
  }
}

/**
 * The demo's weights from a run folder; with `train`, a missing pair is
 * made first by a short CLI run.
 * @param dir A `runs/<name>/` folder of the CLI.
 */
export async function loadDemoWeights(
  dir: string,
  options: { train?: boolean } = {},
): Promise<DemoWeights> {
  dir = dir.replace(/\/+$/, "");
  const have = await exists(`${dir}/cnnf.safetensors`) &&
    await exists(`${dir}/cnn.safetensors`);
  if (!have) {
    if (!options.train) {
      throw new Error(
        `${dir}: needs cnnf.safetensors and cnn.safetensors (a run of \`deno run -A cli.ts train --out ${dir}\`)`,
      );
    }
    await trainDemoWeights(dir);
  }
  await init({ backend: "cpu" });
  const config = await runConfig(dir);
  return {
    config,
    cnnf: await compact(`${dir}/cnnf.safetensors`, "cnnf", config),
    cnn: await compact(`${dir}/cnn.safetensors`, "cnn", config),
  };
}
