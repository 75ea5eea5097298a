/**
 * The engine: backend selection, op dispatch (`apply`), the autograd tape's
 * node bookkeeping, scopes for memory, constants and the seeded RNG state.
 *
 * A node keeps the tensors its gradient rule reads (by storage reference, so
 * disposing the user's tensor does not free them) and is itself refcounted:
 * by its output tensor and by every node that consumes that output. When the
 * count reaches zero its saved tensors are freed.
 *
 * @module
 */

import {
  GpuRuntime,
  requestAdapter,
  summarizeAdapter,
} from "../gpu/runtime.ts";
import {
  type Backend,
  type BackendName,
  CpuBackend,
  type MemoryStats,
  Storage,
  WebGpuBackend,
} from "./backend.ts";
import { type AttrsOf, type OpName, OPS } from "./ops/table.ts";
import { noteIntRange } from "./labels.ts";
import type { OpDef } from "./ops/types.ts";
import type { DType, Shape, TypedArray } from "./shape.ts";
import { Tensor } from "./tensor.ts";
import { configureCpu } from "./wasm/mod.ts";

/** A recorded op on the tape. */
export interface TapeNode {
  /** Op name (for messages). */
  readonly op: string;
  /** The op declaration. */
  readonly def: OpDef<unknown>;
  /** The input tensors (for routing gradients; data not held). */
  readonly inputs: Tensor[];
  /** Saved inputs the gradient rule reads. */
  saved: (Tensor | undefined)[];
  /** Saved output, if the rule reads it. */
  savedOut: Tensor | undefined;
  /** Input shapes. */
  readonly inShapes: Shape[];
  /** Input dtypes. */
  readonly inDtypes: DType[];
  /** Op attributes. */
  readonly attrs: unknown;
  /** Which inputs take part in differentiation. */
  readonly needs: boolean[];
  /** References: output tensor + consuming nodes. */
  refs: number;
  /** Set once backward consumed it (or its references dropped to zero). */
  released: boolean;
}

/** Backend choice for `init`. */
export type BackendChoice = BackendName | "auto";

/** Options of `init`. */
export interface InitOptions {
  /** Which backend to use; "auto" picks WebGPU only on a hardware adapter. */
  backend?: BackendChoice;
  /** Seed of the global random stream. */
  seed?: number;
  /**
   * Most bytes of released WebGPU buffers kept for reuse (default 512 MiB);
   * past it the least recently released are destroyed. Applies to the
   * WebGPU device whichever backend is chosen, once it exists.
   */
  gpuPoolFreeBytes?: number;
  /**
   * Threads of the CPU backend's WebAssembly kernels (default: the core
   * count; 1 runs without workers).
   */
  threads?: number;
}

interface State {
  backend: Backend;
  cpu: CpuBackend;
  webgpu: WebGpuBackend | null;
  gradEnabled: boolean;
  scopes: Set<Tensor>[];
  seed: number;
  offset: number;
  constants: Map<Backend, Map<string, Storage>>;
}

const cpu = new CpuBackend();
const state: State = {
  backend: cpu,
  cpu,
  webgpu: null,
  gradEnabled: true,
  scopes: [],
  seed: 0,
  offset: 0,
  constants: new Map(),
};

/**
 * Returns the WebGPU backend, creating the device on first use.
 * @param maxFreeBytes Cap on the bytes its buffer pool holds free.
 * @example One backend per process
 * ```ts
 * import { requestAdapter, webgpuBackend } from "@cnnf/webgpu/internals";
 * import assert from "node:assert/strict";
 * if (await requestAdapter()) {
 *   const gpu = await webgpuBackend();
 *   assert.equal(gpu.name, "webgpu");
 *   assert.equal(await webgpuBackend(), gpu);
 * }
 * ```
 */
export async function webgpuBackend(
  maxFreeBytes?: number,
): Promise<WebGpuBackend> {
  if (!state.webgpu) {
    const runtime = await GpuRuntime.create({ maxFreeBytes });
    state.webgpu = new WebGpuBackend(runtime);
  } else if (maxFreeBytes !== undefined) {
    state.webgpu.runtime.pool.maxFreeBytes = maxFreeBytes;
  }
  return state.webgpu;
}

/**
 * Whether a WebGPU adapter exists, and whether it is a software fallback.
 * @example
 * ```ts
 * import { probeWebGpu } from "@cnnf/webgpu";
 * const p = await probeWebGpu();
 * console.log(p.available ? `${p.description} (fallback: ${p.fallback})` : "no WebGPU");
 * ```
 */
export async function probeWebGpu(): Promise<
  { available: boolean; fallback: boolean; description: string }
> {
  const adapter = await requestAdapter();
  if (!adapter) return { available: false, fallback: false, description: "" };
  const s = summarizeAdapter(adapter);
  return {
    available: true,
    fallback: s.isFallbackAdapter,
    description: s.description,
  };
}

/**
 * Chooses the default backend and seeds the random stream. "auto" picks
 * WebGPU on a hardware adapter and the CPU backend when the only adapter is
 * a software fallback (slower than plain JavaScript).
 * @returns The chosen backend's name.
 * @example
 * ```ts
 * import { currentBackend, init } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * // "auto" picks WebGPU on a hardware GPU, else the CPU backend.
 * const chosen = await init({ backend: "cpu", seed: 0 });
 * assert.equal(chosen, "cpu");
 * assert.equal(currentBackend(), "cpu");
 * ```
 */
export async function init(options: InitOptions = {}): Promise<BackendName> {
  const choice = options.backend ?? "auto";
  if (!["auto", "cpu", "webgpu"].includes(choice)) {
    throw new Error(`init: unknown backend '${choice}' (auto, cpu, webgpu)`);
  }
  const poolBytes = options.gpuPoolFreeBytes;
  if (poolBytes !== undefined && !(poolBytes >= 0)) {
    throw new Error(
      `init: gpuPoolFreeBytes must be a number >= 0, got ${poolBytes}`,
    );
  }
  if (choice === "cpu") state.backend = state.cpu;
  else if (choice === "webgpu") {
    state.backend = await webgpuBackend(poolBytes);
  } else {
    const p = await probeWebGpu();
    state.backend = p.available && !p.fallback
      ? await webgpuBackend(poolBytes)
      : state.cpu;
  }
  if (poolBytes !== undefined && state.webgpu) {
    state.webgpu.runtime.pool.maxFreeBytes = poolBytes;
  }
  if (options.seed !== undefined) manualSeed(options.seed);
  if (options.threads !== undefined) configureCpu({ threads: options.threads });
  return state.backend.name;
}

/**
 * The default backend's name.
 * @example
 * ```ts
 * import { currentBackend, init } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * await init({ backend: "cpu" });
 * assert.equal(currentBackend(), "cpu");
 * ```
 */
export function currentBackend(): BackendName {
  return state.backend.name;
}

/** The default backend object. */
export function backendObject(name?: BackendName): Backend {
  if (!name) return state.backend;
  if (name === "cpu") return state.cpu;
  if (!state.webgpu) {
    throw new Error("webgpu backend not initialised: call init() first");
  }
  return state.webgpu;
}

/**
 * Runs `fn` on the CPU backend with float32 tensors stored and computed in
 * float64 (for finite-difference gradient checks). Tensors made inside are only valid
 * inside.
 */
export function withFloat64<T>(fn: () => T): T {
  const prev = state.cpu.precision;
  const prevBackend = state.backend;
  state.cpu.precision = "float64";
  state.backend = state.cpu;
  try {
    return fn();
  } finally {
    state.cpu.precision = prev;
    state.backend = prevBackend;
  }
}

/**
 * Memory counters of a backend (default: the current one): live and pooled
 * buffers and everything else the device holds.
 * @example
 * ```ts
 * import { init, memoryStats, zeros } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * await init({ backend: "cpu" });
 * const before = memoryStats().liveBuffers;
 * const z = zeros([1024]);
 * assert.equal(memoryStats().liveBuffers, before + 1);
 * z.dispose();
 * assert.equal(memoryStats().liveBuffers, before);
 * ```
 */
export function memoryStats(name?: BackendName): MemoryStats {
  return backendObject(name).stats();
}

/**
 * Resets the global random stream.
 * @example
 * ```ts
 * import { init, manualSeed, rand } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * await init({ backend: "cpu" });
 * manualSeed(42);
 * const a = await rand([2]).data();
 * manualSeed(42);
 * assert.deepEqual(await rand([2]).data(), a);
 * ```
 */
export function manualSeed(seed: number): void {
  state.seed = seed >>> 0;
  state.offset = 0;
}

/**
 * The random stream's position (for checkpoints).
 * @example
 * ```ts
 * import { init, rand, rngState, setRngState } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * await init({ backend: "cpu", seed: 3 });
 * const saved = rngState(); // e.g. into a checkpoint
 * const a = await rand([2]).data();
 * setRngState(saved);
 * assert.deepEqual(await rand([2]).data(), a);
 * ```
 */
export function rngState(): { seed: number; offset: number } {
  return { seed: state.seed, offset: state.offset };
}

/**
 * Restores a position saved by `rngState`.
 * @example
 * ```ts
 * import { init, rand, rngState, setRngState } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * await init({ backend: "cpu", seed: 3 });
 * rand([5]).dispose();
 * const at = rngState();
 * const a = await rand([2]).data();
 * setRngState(at);
 * assert.deepEqual(await rand([2]).data(), a);
 * ```
 */
export function setRngState(s: { seed: number; offset: number }): void {
  state.seed = s.seed >>> 0;
  state.offset = s.offset;
}

/** Reserves `n` counters of the random stream; returns seed and offset. */
export function takeRandom(n: number): { seed: number; offset: number } {
  const r = { seed: state.seed, offset: state.offset };
  state.offset += n;
  return r;
}

/** Whether ops record gradients now. */
export function isGradEnabled(): boolean {
  return state.gradEnabled;
}

/** Sets the grad mode; returns the previous one. */
export function setGradEnabled(on: boolean): boolean {
  const prev = state.gradEnabled;
  state.gradEnabled = on;
  return prev;
}

/** Called by every Tensor constructor: tracks it in the innermost scope. */
export function track(t: Tensor): void {
  const s = state.scopes[state.scopes.length - 1];
  if (s) s.add(t);
}

/**
 * Removes a tensor from every open scope, so scope exit keeps it.
 * @example
 * ```ts
 * import { init, keep, type Tensor, tensor, tidy } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * await init({ backend: "cpu" });
 * const x = tensor([1, 2, 3]);
 * let total: Tensor | null = null;
 * tidy(() => {
 *   x.mul(2).sum(); // freed at the end of the scope
 *   total = keep(x.mul(2).sum()); // survives it
 * });
 * assert.equal(await total!.item(), 12);
 * ```
 */
export function keep<T extends Tensor>(t: T): T {
  for (const s of state.scopes) s.delete(t);
  return t;
}

function collect(v: unknown, out: Set<Tensor>): void {
  if (v instanceof Tensor) out.add(v);
  else if (Array.isArray(v)) v.forEach((x) => collect(x, out));
  else if (v && typeof v === "object" && !(v instanceof Promise)) {
    for (const x of Object.values(v)) collect(x, out);
  }
}

const ASYNC_TIDY = "tidy: the function is async, but a scope must end " +
  "before its tensors are freed; keep the tensor work synchronous inside " +
  "tidy and await outside it: `const out = tidy(() => f(x)); " +
  "await out.data();`";

/**
 * Runs `fn` and disposes every tensor created inside it, except the tensors
 * it returns (found in arrays and plain objects) and those passed to `keep`.
 * Scopes nest. Synchronous functions only: an async function throws (its
 * tensors would be freed while it still runs).
 * @example A training step whose intermediates are freed
 * ```ts
 * import { init, memoryStats, randn, tidy } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 *
 * await init({ backend: "cpu", seed: 0 });
 * const x = randn([4, 4]);
 * const f = () => x.mul(2).add(1).relu().sum(); // 3 temporaries
 * tidy(f).dispose(); // the first run caches the constants 2 and 1
 * const before = memoryStats().liveBuffers;
 * const total = tidy(f);
 * assert.equal(memoryStats().liveBuffers, before + 1); // only `total` lives
 * total.dispose();
 * ```
 */
export function tidy<T>(fn: () => T): T {
  if (fn.constructor?.name === "AsyncFunction") throw new Error(ASYNC_TIDY);
  const scope = new Set<Tensor>();
  state.scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    // A step that throws must not leak what it made so far.
    state.scopes.pop();
    for (const t of scope) t.dispose();
    throw e;
  }
  state.scopes.pop();
  if (result instanceof Promise) {
    // A plain function that returned a promise: its tensors may still be in
    // use, so keep them alive (into the parent scope) and refuse.
    const parent = state.scopes[state.scopes.length - 1];
    if (parent) { for (const t of scope) parent.add(t); }
    result.catch(() => {});
    throw new Error(ASYNC_TIDY);
  }
  const survivors = new Set<Tensor>();
  collect(result, survivors);
  for (const t of scope) if (!survivors.has(t)) t.dispose();
  const parent = state.scopes[state.scopes.length - 1];
  if (parent) { for (const t of survivors) if (scope.has(t)) parent.add(t); }
  return result;
}

/** Drops one reference to a node; at zero frees its saved tensors. */
export function releaseNode(node: TapeNode): void {
  if (--node.refs > 0) return;
  freeSaved(node);
  for (let i = 0; i < node.inputs.length; i++) {
    const inNode = node.inputs[i].node;
    if (node.needs[i] && inNode) releaseNode(inNode);
  }
}

/** Frees the tensors a node saved for its gradient rule. */
export function freeSaved(node: TapeNode): void {
  node.released = true;
  for (const t of node.saved) t?.dispose();
  node.savedOut?.dispose();
  node.saved = [];
  node.savedOut = undefined;
}

function savedView(t: Tensor): Tensor {
  // Owned by the node, so no scope may dispose it.
  return keep(new Tensor(t.storage.retain(), t.shape, t.dtype, false));
}

/** Whether gradients flow into this tensor. */
export function needsGrad(t: Tensor): boolean {
  return t.requiresGrad || t.node !== null;
}

/** Runs primitive `name` on `inputs` and records it on the tape. */
export function apply<K extends OpName>(
  name: K,
  inputs: Tensor[],
  attrs: AttrsOf<K>,
  target?: Backend,
): Tensor {
  const def = OPS[name] as unknown as OpDef<AttrsOf<K>>;
  for (const t of inputs) {
    if (!t.storage.alive) {
      throw new Error(`${name}: input ${fmtT(t)} was disposed`);
    }
  }
  const backend = inputs.length
    ? inputs[0].storage.backend
    : target ?? state.backend;
  for (const t of inputs) {
    if (t.storage.backend !== backend) {
      throw new Error(
        `${name}: inputs live on different backends (${backend.name} and ${t.storage.backend.name})`,
      );
    }
  }
  const { shape, dtype } = def.infer(inputs, attrs);
  const n = shape.reduce((a, b) => a * b, 1);
  const args = {
    inShapes: inputs.map((t) => t.shape),
    inDtypes: inputs.map((t) => t.dtype),
    outShape: shape,
    outDtype: dtype,
    attrs,
  };
  let storage: Storage;
  if (name === "reshape") storage = inputs[0].storage.retain();
  else {
    storage = new Storage(backend, backend.alloc(dtype, n, name), dtype, n);
    backend.run(def, inputs.map((t) => t.storage.handle), storage.handle, args);
  }
  const out = new Tensor(storage, shape, dtype, false);
  if (state.gradEnabled && def.grad && inputs.some(needsGrad)) {
    const needs = inputs.map(needsGrad);
    const save = def.saveInputs ?? false;
    const node: TapeNode = {
      op: name,
      def: def as OpDef<unknown>,
      inputs,
      saved: inputs.map((t, i) =>
        save === true || (Array.isArray(save) && save[i])
          ? savedView(t)
          : undefined
      ),
      savedOut: def.saveOutput ? savedView(out) : undefined,
      inShapes: args.inShapes,
      inDtypes: args.inDtypes,
      attrs,
      needs,
      refs: 1,
      released: false,
    };
    inputs.forEach((t, i) => {
      if (needs[i] && t.node) t.node.refs++;
    });
    out.node = node;
  }
  return out;
}

function fmtT(t: Tensor): string {
  return `[${t.shape.join(", ")}]`;
}

/**
 * Creates a tensor from data on a backend (default: the current one).
 * @param op The op creating it, named in errors.
 */
export function fromData(
  data: TypedArray,
  shape: Shape,
  backend?: BackendName,
  op = "tensor",
): Tensor {
  const b = backendObject(backend);
  const dtype: DType = data instanceof Int32Array ? "int32" : "float32";
  const storage = new Storage(b, b.upload(data, op), dtype, data.length);
  if (data instanceof Int32Array) noteIntRange(storage, data);
  return new Tensor(storage, shape, dtype, false);
}

/**
 * Throws a clear error naming `op` when `n` elements of `dtype` cannot be
 * allocated on a backend (default: the current one), before any work.
 */
export function checkAlloc(
  op: string,
  dtype: DType,
  n: number,
  backend?: BackendName,
): void {
  backendObject(backend).checkAlloc(op, dtype, n);
}

/** Scalars kept per backend by `constant`. */
const CONSTANT_CACHE_SIZE = 64;

/**
 * A cached constant scalar on a backend, shared by every use (so scalar
 * operands cost no upload after the first).
 */
export function constant(
  value: number,
  dtype: DType,
  backend: Backend,
): Tensor {
  let cache = state.constants.get(backend);
  if (!cache) state.constants.set(backend, cache = new Map());
  const key = `${dtype}:${Object.is(value, -0) ? "-0" : value}`;
  let s = cache.get(key);
  if (s) {
    // Least-recently-used order: move the hit to the end.
    cache.delete(key);
    cache.set(key, s);
  } else {
    const data = dtype === "int32"
      ? Int32Array.of(value)
      : Float32Array.of(value);
    s = new Storage(backend, backend.upload(data, "constant"), dtype, 1);
    cache.set(key, s);
    if (cache.size > CONSTANT_CACHE_SIZE) {
      // Values that change every step (a scheduled learning rate) must not
      // pile up: evict the oldest; tensors using it keep their own reference.
      const [oldKey, oldStorage] = cache.entries().next().value!;
      cache.delete(oldKey);
      oldStorage.release();
    }
  }
  return new Tensor(s.retain(), [], dtype, false);
}

/**
 * Reads several tensors back with one synchronisation.
 * @example
 * ```ts
 * import { init, readAll, tensor } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 * await init({ backend: "cpu" });
 * const x = tensor([1, 2]);
 * const [s, m] = await readAll([x.sum(), x.max()]); // one synchronisation
 * assert.deepEqual([s[0], m[0]], [3, 2]);
 * ```
 */
export async function readAll(tensors: Tensor[]): Promise<TypedArray[]> {
  const byBackend = new Map<Backend, number[]>();
  tensors.forEach((t, i) => {
    if (!t.storage.alive) throw new Error("data(): tensor was disposed");
    const b = t.storage.backend;
    if (!byBackend.has(b)) byBackend.set(b, []);
    byBackend.get(b)!.push(i);
  });
  const out = new Array<TypedArray>(tensors.length);
  for (const [b, idx] of byBackend) {
    const res = await b.read(idx.map((i) => ({
      handle: tensors[i].storage.handle,
      dtype: tensors[i].dtype,
      n: tensors[i].size,
    })));
    idx.forEach((i, j) => (out[i] = res[j]));
  }
  return out;
}

/**
 * Waits for all queued GPU work (benchmarks); a no-op on the CPU.
 * @example
 * ```ts
 * import { init, randn, sync } from "@cnnf/webgpu";
 * await init({ backend: "cpu" });
 * const y = randn([64, 64]).matmul(randn([64, 64]));
 * await sync(); // all queued GPU work done (a no-op on the CPU)
 * y.dispose();
 * ```
 */
export async function sync(): Promise<void> {
  if (state.webgpu) await state.webgpu.runtime.sync();
}
