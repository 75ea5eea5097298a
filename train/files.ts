/**
 * File I/O for checkpoints: atomic writes (temporary file in the same
 * folder, then rename) and safetensors files read and written by path, with
 * errors that name the path.
 *
 * @module
 */

import {
  type DecodedSafetensors,
  decodeSafetensors,
  encodeSafetensors,
  type HostTensor,
} from "../nn/safetensors.ts";

/** Writes bytes atomically: a crash leaves the old file or the new one. */
export async function writeFileAtomic(
  path: string,
  bytes: Uint8Array,
): Promise<void> {
  const tmp = `${path}.tmp-${Deno.pid}-${Date.now()}`;
  try {
    await Deno.writeFile(tmp, bytes);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw new Error(`cannot write ${path}: ${(e as Error).message}`);
  }
}

/** Reads a file, with an error naming the path when it is missing. */
export async function readFileNamed(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(`file not found: ${path}`);
    }
    throw new Error(`cannot read ${path}: ${(e as Error).message}`);
  }
}

/**
 * Saves tensors as a safetensors file, atomically.
 * @example
 * ```ts
 * import { loadSafetensors, saveSafetensors } from "@cnnf/webgpu/train";
 * import assert from "node:assert/strict";
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await saveSafetensors(path, {
 *   w: { dtype: "F32", shape: [2], data: Float32Array.of(1, 2) },
 * }, { step: "3" });
 * const { tensors, metadata } = await loadSafetensors(path);
 * assert.deepEqual([...tensors.w.data], [1, 2]);
 * assert.equal(metadata.step, "3");
 * await Deno.remove(path);
 * ```
 */
export async function saveSafetensors(
  path: string,
  tensors: Record<string, HostTensor>,
  metadata: Record<string, string> = {},
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

/**
 * Loads a safetensors file; errors name the path and the key.
 * @example
 * ```ts
 * import { loadSafetensors } from "@cnnf/webgpu/train";
 * import assert from "node:assert/strict";
 * await assert.rejects(() => loadSafetensors("/nonexistent.safetensors"), /file not found: \/nonexistent/);
 * ```
 */
export async function loadSafetensors(
  path: string,
): Promise<DecodedSafetensors> {
  return decodeSafetensors(await readFileNamed(path), path);
}

/**
 * Removes `*.tmp-*` files an interrupted atomic write left in `dir` (a kill
 * between write and rename); returns their names. A missing folder has none.
 */
export async function removeStaleTemps(dir: string): Promise<string[]> {
  const removed: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      // Ours are `<name>.tmp-<pid>-<ms>`; a live writer of this process
      // is never running when a command starts.
      if (e.isFile && /\.tmp-\d+-\d+$/.test(e.name)) {
        await Deno.remove(`${dir}/${e.name}`).catch(() => {});
        removed.push(e.name);
      }
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return removed;
}
