/**
 * Entry of the browser test page: installs the `Deno.test` collector, loads
 * the engine's own test modules (the same files `deno test` runs), and
 * exports `runTests`, which the Deno side calls over the DevTools protocol.
 * It runs the collected tests whose names start with a prefix ("[webgpu]":
 * every WGSL kernel against the CPU reference, forward and gradient),
 * records every shader module Chromium compiles (Tint) and which primitives
 * ran on WebGPU, and returns the lot as JSON.
 */

import { collected } from "./deno_shim.ts";
import "../tensor/conv_test.ts";
import "../tensor/elementwise_test.ts";
import "../tensor/errors_test.ts";
import "../tensor/matmul_test.ts";
import "../tensor/movement_test.ts";
import "../tensor/norm_test.ts";
import "../tensor/pool_test.ts";
import "../tensor/random_test.ts";
import "../tensor/reduce_test.ts";
import "../autograd/backward_test.ts";
import "../autograd/memory_test.ts";
import "../gpu/runtime_test.ts";
import { classifyAdapter } from "../../gpu/adapter.ts";
import { OPS } from "../../tensor/ops/table.ts";
import type { OpDef } from "../../tensor/ops/types.ts";

/** One test's outcome. */
export interface PageResult {
  /** Test name. */
  name: string;
  /** Whether it passed. */
  ok: boolean;
  /** Milliseconds it took. */
  ms: number;
  /** The error, when it failed. */
  error?: string;
}

/** Everything the page reports back. */
export interface PageReport {
  /** Per-test outcomes. */
  results: PageResult[];
  /** Tests registered with `ignore`. */
  ignored: string[];
  /** Labels of every shader module created (the kernels' cache keys). */
  kernels: string[];
  /** Primitives with a WGSL kernel that never ran on WebGPU. */
  opsNotRun: string[];
  /** The adapter's info, as Chromium reports it. */
  adapter: Record<string, unknown>;
  /** `navigator.userAgent`. */
  userAgent: string;
}

/**
 * Runs the collected tests whose names start with `prefix`.
 * @param prefix Name prefix, "[webgpu]" by default.
 */
export async function runTests(prefix = "[webgpu]"): Promise<PageReport> {
  const kernels = new Set<string>();
  const proto = GPUDevice.prototype;
  const create = proto.createShaderModule;
  proto.createShaderModule = function (d: GPUShaderModuleDescriptor) {
    kernels.add(d.label ?? "(unlabelled)");
    return create.call(this, d);
  };
  const ran = new Set<string>();
  for (const [name, def] of Object.entries(OPS)) {
    const op = def as OpDef<unknown>;
    const gpu = op.gpu;
    op.gpu = (args) => {
      ran.add(name);
      return gpu.call(op, args);
    };
  }
  const results: PageResult[] = [];
  const chosen = collected.filter((t) => t.name.startsWith(prefix));
  for (const t of chosen.filter((t) => !t.ignore)) {
    const t0 = performance.now();
    try {
      await t.fn();
      results.push({ name: t.name, ok: true, ms: performance.now() - t0 });
    } catch (e) {
      const error = e instanceof Error
        ? `${e.message}\n${e.stack?.split("\n").slice(1, 6).join("\n")}`
        : String(e);
      results.push({
        name: t.name,
        ok: false,
        ms: performance.now() - t0,
        error,
      });
    }
  }
  const adapter = await navigator.gpu.requestAdapter();
  const info = adapter?.info;
  const fallback = (info as { isFallbackAdapter?: boolean } | undefined)
    ?.isFallbackAdapter;
  return {
    results,
    ignored: chosen.filter((t) => t.ignore).map((t) => t.name),
    kernels: [...kernels].sort(),
    opsNotRun: Object.keys(OPS).filter((n) => !ran.has(n)),
    adapter: {
      vendor: info?.vendor,
      architecture: info?.architecture,
      device: info?.device,
      description: info?.description,
      isFallbackAdapter: fallback,
      classified: info
        ? classifyAdapter({
          vendor: info.vendor,
          architecture: info.architecture,
          device: info.device,
          description: info.description,
          isFallbackAdapter: fallback,
        })
        : null,
    },
    userAgent: navigator.userAgent,
  };
}
