/**
 * A WebGPU tensor library with reverse-mode autodiff for Deno: WGSL compute
 * kernels on the GPU, a pure-TypeScript CPU backend as reference and
 * fallback, and the building blocks of CNN-F (convolutional networks with
 * recurrent generative feedback) and adversarial robustness research.
 *
 * Training, datasets and the CLI's file handling live in `./train` and
 * `./data` (they use Deno's file APIs); everything here also runs in a
 * browser.
 *
 * @example Train a step of a tiny model
 * ```ts
 * import { crossEntropy, init, randn, tensor } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 *
 * await init({ backend: "cpu", seed: 0 });
 * const w = randn([4, 3], { requiresGrad: true });
 * const x = tensor([[1, 2, 3, 4]]);
 * const labels = tensor([2], [1], { dtype: "int32" });
 * const loss = crossEntropy(x.matmul(w), labels);
 * loss.backward();
 * assert.deepEqual(w.grad!.shape, [4, 3]);
 * console.log(await loss.item());
 * ```
 *
 * @module
 */

export * from "./tensor/mod.ts";
export * from "./autograd/mod.ts";
export * from "./nn/mod.ts";
export * as optim from "./nn/optim.ts";
export * from "./cnnf/mod.ts";
export * from "./attacks/mod.ts";
export {
  type AdapterSummary,
  GpuAllocationError,
  GpuKernelError,
  ShaderCompileError,
} from "./gpu/mod.ts";
