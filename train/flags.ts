/**
 * Command-line settings: the flags that override a preset's fields (named
 * as in the reference's train.py), and building a validated configuration
 * from parsed flags. Pure: the CLI does the parsing and printing.
 *
 * @module
 */

import { PRESETS, type TrainConfig, validateConfig } from "./config.ts";

/** A usage error: printed with a usage hint, exit code 2. */
export class UsageError extends Error {}

/** Parsed flag values by flag name. */
export type Flags = Record<string, string | boolean | undefined>;

/** Config fields settable by flags: flag name → [field, kind]. */
export const CONFIG_FLAGS: Record<
  string,
  [keyof TrainConfig, "int" | "num" | "str" | "list"]
> = {
  "dataset": ["dataset", "str"],
  "data": ["data", "str"],
  "models": ["models", "list"],
  "epochs": ["epochs", "int"],
  "batch-size": ["batchSize", "int"],
  "test-batch-size": ["testBatchSize", "int"],
  "lr": ["lr", "num"],
  "momentum": ["momentum", "num"],
  "wd": ["wd", "num"],
  "grad-clip": ["gradClip", "num"],
  "schedule": ["schedule", "str"],
  "power": ["power", "num"],
  "eps": ["eps", "num"],
  "eps-iter": ["epsIter", "num"],
  "nb-iter": ["nbIter", "int"],
  "max-cycles": ["maxCycles", "int"],
  "ind": ["ind", "int"],
  "res-param": ["resParam", "num"],
  "mse-param": ["mseParam", "num"],
  "clean-param": ["cleanParam", "num"],
  "layers": ["depth", "int"],
  "widen-factor": ["widenFactor", "int"],
  "seed": ["seed", "int"],
  "backend": ["backend", "str"],
  "out": ["out", "str"],
  "train-limit": ["trainLimit", "int"],
  "test-limit": ["testLimit", "int"],
  "max-steps": ["maxSteps", "int"],
  "test": ["testRule", "str"],
  "attacks": ["evalAttacks", "list"],
  "spsa-limit": ["spsaLimit", "int"],
  "spsa-samples": ["spsaSamples", "int"],
};

/**
 * Builds a configuration from a preset and flags; throws UsageError naming
 * a bad flag.
 * @param flags Parsed flags.
 * @param base Settings a saved run was trained with (eval, attack): they
 *   replace the preset's unless `--preset` is given; flags override both.
 */
export function configFromFlags(
  flags: Flags,
  base?: Partial<TrainConfig> | null,
): TrainConfig {
  const name = String(flags.preset ?? "quick");
  const preset = PRESETS[name];
  if (!preset) {
    throw new UsageError(
      `--preset: unknown preset '${name}' (${Object.keys(PRESETS).join(", ")})`,
    );
  }
  const from = base && flags.preset === undefined
    ? { ...preset, ...base }
    : preset;
  const cfg: TrainConfig = {
    ...from,
    evalAttacks: [...from.evalAttacks],
    models: [...from.models],
  };
  const set = cfg as unknown as Record<string, unknown>;
  for (const [flag, [field, kind]] of Object.entries(CONFIG_FLAGS)) {
    const raw = flags[flag];
    if (raw === undefined) continue;
    const v = String(raw);
    if (kind === "str") set[field] = v;
    else if (kind === "list") {
      set[field] = v.split(",").map((s) => s.trim()).filter(Boolean);
    } else {
      const n = Number(v);
      if (
        v.trim() === "" || !Number.isFinite(n) ||
        (kind === "int" && !Number.isInteger(n))
      ) {
        throw new UsageError(
          `--${flag}: expected ${
            kind === "int" ? "an integer" : "a number"
          }, got '${v}'`,
        );
      }
      set[field] = n;
    }
  }
  if (flags.adversarial) cfg.adversarial = true;
  if (flags.standard) cfg.adversarial = false;
  if (flags["out"] === undefined && name !== preset.preset) {
    cfg.out = preset.out;
  }
  try {
    validateConfig(cfg);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return cfg;
}
