/**
 * Helpers shared by the WGSL generators: uniform packing, grid sizing and the
 * index snippets every kernel uses.
 *
 * @module
 */

/** Threads per workgroup of the one-thread-per-element kernels. */
export const WG_SIZE = 256;

/** Most workgroups in one grid dimension. */
export const MAX_GROUPS = 65535;

/**
 * Packs unsigned/signed integers and floats into a uniform block, padded to
 * 16 bytes. Integers are written as u32 (two's complement for negatives),
 * entries of `floats` (by index) as f32.
 */
export function packUniforms(
  ints: readonly number[],
  floats: ReadonlySet<number> = new Set(),
): ArrayBuffer {
  const n = Math.max(4, Math.ceil(ints.length / 4) * 4);
  const buf = new ArrayBuffer(n * 4);
  const u = new Uint32Array(buf);
  const f = new Float32Array(buf);
  ints.forEach((v, i) => {
    if (floats.has(i)) f[i] = v;
    else u[i] = v >>> 0;
  });
  return buf;
}

/**
 * WGSL declaring the parameter block `p: P` at `binding`. It is bound as
 * read-only storage, not as a uniform buffer: Mesa's lavapipe (22.x) bakes
 * uniform-buffer values that steer loops into a freshly compiled shader
 * variant at every dispatch, which cost about 0.8-2 MiB of native memory
 * per dispatch (never freed) and several milliseconds of compilation. A
 * storage binding has the same layout and is read the same way elsewhere.
 */
export function paramsBinding(binding: number): string {
  return `@group(0) @binding(${binding}) var<storage, read> p: P;`;
}

/** A grid of `WG_SIZE`-thread workgroups covering `n` threads. */
export function grid1d(
  n: number,
  wg: number = WG_SIZE,
): [number, number, number] {
  const groups = Math.ceil(n / wg);
  if (groups <= MAX_GROUPS) return [groups, 1, 1];
  const y = Math.ceil(groups / MAX_GROUPS);
  return [Math.ceil(groups / y), y, 1];
}

/** Splits `groups` workgroups over x and y to respect the per-axis limit. */
export function grid2d(groups: number, z = 1): [number, number, number] {
  if (groups <= MAX_GROUPS) return [groups, 1, z];
  const y = Math.ceil(groups / MAX_GROUPS);
  return [Math.ceil(groups / y), y, z];
}

/** WGSL builtins for the main entry point of a 1-D kernel. */
export const MAIN_ARGS = `@builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32`;

/** WGSL expression for the linear workgroup index under `grid1d`/`grid2d`. */
export const GROUP_INDEX = "(wid.y * nwg.x + wid.x)";

/** WGSL scalar type for a dtype name. */
export function wgslType(dtype: "float32" | "int32"): string {
  return dtype === "int32" ? "i32" : "f32";
}

/** Reads component `d` of a packed `array<vec4<u32>, K>` uniform field. */
export function at(field: string, d: string): string {
  return `${field}[(${d}) / 4u][(${d}) % 4u]`;
}
