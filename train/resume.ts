/**
 * Honest resume: a checkpoint stores the configuration that wrote it, and
 * `--resume` continues only a run with the same one, since anything else
 * would break the promise of the result an uninterrupted run gives. A few
 * fields may change on request (`--allow-change`), and settings of the
 * final evaluation or of this invocation only are never compared.
 *
 * @module
 */

import type { TrainConfig } from "./config.ts";
import { loadCheckpoint } from "./checkpoint.ts";
import { CONFIG_FLAGS, UsageError } from "./flags.ts";
import { checkpointPath } from "./loop.ts";

/**
 * Fields that never block a resume: where things are and how this
 * invocation runs, and the final evaluation's settings (training never
 * reads them).
 */
export const RESUME_FREE: readonly (keyof TrainConfig)[] = [
  "preset",
  "out",
  "data",
  "backend",
  "maxSteps",
  "evalAttacks",
  "spsaLimit",
  "spsaSamples",
  "testBatchSize",
];

/**
 * Fields `--allow-change` may name. `epochs` extends (or shortens) a run:
 * the learning-rate schedule is recomputed for the new length from the
 * step reached, so the result is no longer that of one uninterrupted run.
 * `test-limit` and `test` change the per-epoch test pass and the final
 * evaluation, not the training.
 */
export const RESUME_ALLOWED: readonly string[] = [
  "epochs",
  "test-limit",
  "test",
];

/** The flag that sets a configuration field. */
export function flagOf(field: string): string {
  if (field === "adversarial") return "adversarial/--standard";
  const hit = Object.entries(CONFIG_FLAGS).find(([, [f]]) => f === field);
  return hit ? hit[0] : field;
}

/** One field that differs between a checkpoint's configuration and this one. */
export interface ConfigDifference {
  /** Flag name (without dashes). */
  flag: string;
  /** Value in the checkpoint. */
  saved: unknown;
  /** Value now. */
  now: unknown;
}

/** Fields (other than the free ones) whose values differ. */
export function configDifferences(
  saved: Partial<TrainConfig>,
  now: TrainConfig,
): ConfigDifference[] {
  const out: ConfigDifference[] = [];
  const keys = new Set([...Object.keys(saved), ...Object.keys(now)]);
  for (const k of keys as Set<keyof TrainConfig>) {
    if (RESUME_FREE.includes(k)) continue;
    const a = JSON.stringify(saved[k]);
    const b = JSON.stringify(now[k]);
    if (a !== b) out.push({ flag: flagOf(k), saved: saved[k], now: now[k] });
  }
  return out;
}

/**
 * Checks every model's checkpoint in `cfg.out` against `cfg` before any
 * work; throws a UsageError listing the differences `allow` does not cover.
 * Returns the optimizer steps each checkpoint holds (0 when none).
 * @param cfg The configuration of this invocation.
 * @param allow Flag names that may differ (`--allow-change`).
 */
export async function checkResume(
  cfg: TrainConfig,
  allow: string[] = [],
): Promise<Record<string, number>> {
  const bad = allow.filter((a) => !RESUME_ALLOWED.includes(a));
  if (bad.length) {
    throw new UsageError(
      `--allow-change: '${
        bad.join("', '")
      }' may not change on resume (allowed: ${RESUME_ALLOWED.join(", ")})`,
    );
  }
  const steps: Record<string, number> = {};
  for (const kind of cfg.models) {
    const path = checkpointPath(cfg, kind);
    try {
      await Deno.stat(path);
    } catch {
      steps[kind] = 0;
      continue;
    }
    const ck = await loadCheckpoint(path);
    steps[kind] = ck.meta.step;
    const diffs = configDifferences(
      (ck.meta.config ?? {}) as Partial<TrainConfig>,
      cfg,
    ).filter((d) => !allow.includes(d.flag));
    if (diffs.length) {
      const show = (v: unknown) =>
        v === undefined ? "(unset)" : JSON.stringify(v);
      throw new UsageError(
        `--resume: ${path} was written with a different configuration: ${
          diffs.map((d) => `--${d.flag} ${show(d.saved)} (now ${show(d.now)})`)
            .join(", ")
        }; rerun with the checkpoint's values${
          diffs.some((d) => RESUME_ALLOWED.includes(d.flag))
            ? `, or pass --allow-change ${
              diffs.filter((d) => RESUME_ALLOWED.includes(d.flag)).map((d) =>
                d.flag
              ).join(",")
            } to accept those`
            : ""
        }`,
      );
    }
  }
  return steps;
}
