/**
 * Entry point of the WebAssembly CPU path: the lazily created runtime, the
 * switch between it and the plain-JavaScript kernels, and the thread count
 * (`init({ threads })`). Kernels ask `wasmRuntime()` and fall back to the
 * JavaScript reference when it returns null (no SIMD, float64 mode, or the
 * path switched off).
 *
 * @module
 */

import { probeFeatures, type WasmFeatures, WasmRuntime } from "./runtime.ts";

let features: WasmFeatures | null = null;
let runtime: WasmRuntime | null = null;
let enabled = true;
let threads = 0;

function defaultThreads(): number {
  const n = (globalThis as { navigator?: { hardwareConcurrency?: number } })
    .navigator?.hardwareConcurrency;
  return typeof n === "number" && n > 0 ? n : 1;
}

/** The runtime, or null when the wasm path is off or unsupported. */
export function wasmRuntime(): WasmRuntime | null {
  if (!enabled) return null;
  if (runtime) return runtime;
  features ??= probeFeatures();
  if (!features.simd) return null;
  try {
    runtime = new WasmRuntime(features);
  } catch {
    // E.g. no address space for the memory: stay on the JavaScript kernels.
    features = { ...features, simd: false };
    return null;
  }
  runtime.setThreads(threads || defaultThreads());
  return runtime;
}

/**
 * Configures the CPU kernels: `wasm: false` selects the plain-JavaScript
 * reference; `threads` sets how many threads the wasm kernels use (1 = no
 * workers; default: the core count).
 */
export function configureCpu(
  options: { wasm?: boolean; threads?: number },
): void {
  if (options.wasm !== undefined) enabled = options.wasm;
  if (options.threads !== undefined) {
    if (!Number.isInteger(options.threads) || options.threads < 1) {
      throw new Error(
        `init: threads must be a positive integer, got ${options.threads}`,
      );
    }
    threads = options.threads;
    runtime?.setThreads(threads);
  }
}

/** What the CPU path runs on: features, whether wasm is used, threads. */
export function cpuInfo(): {
  wasm: boolean;
  threads: number;
  features: WasmFeatures;
} {
  const rt = wasmRuntime();
  features ??= probeFeatures();
  return { wasm: rt !== null, threads: rt?.threads ?? 1, features };
}
