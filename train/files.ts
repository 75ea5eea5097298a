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

/**
 * The slice of Deno's file API used here, typed locally: the root module's
 * `save`/`load` reach this file, and the browser bundle (type-checked by
 * plain `tsc` with the DOM library, where `Deno` is undeclared) must not
 * depend on Deno's global types. Outside Deno the call fails by name.
 */
interface DenoFiles {
  pid: number;
  readFile(path: string): Promise<Uint8Array>;
  writeFile(path: string, bytes: Uint8Array): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  remove(path: string): Promise<void>;
  readDir(path: string): AsyncIterable<{ name: string; isFile: boolean }>;
  stat(path: string): Promise<unknown>;
  errors: { NotFound: new (...args: never[]) => Error };
}

function denoFiles(path: string): DenoFiles {
  const d = (globalThis as { Deno?: DenoFiles }).Deno;
  if (!d) {
    throw new Error(
      `${path}: reading and writing files by path needs Deno; in a browser, use encodeSafetensors/decodeSafetensors on bytes`,
    );
  }
  return d;
}

/** Writes bytes atomically: a crash leaves the old file or the new one. */
export async function writeFileAtomic(
  path: string,
  bytes: Uint8Array,
): Promise<void> {
  const fs = denoFiles(path);
  const tmp = `${path}.tmp-${fs.pid}-${Date.now()}`;
  try {
    await fs.writeFile(tmp, bytes);
    await fs.rename(tmp, path);
  } catch (e) {
    await fs.remove(tmp).catch(() => {});
    throw new Error(`cannot write ${path}: ${(e as Error).message}`);
  }
}

/**
 * Whether `path` exists; false only when it is missing (any other failure,
 * e.g. no permission, is an error naming the path).
 */
export async function exists(path: string): Promise<boolean> {
  const fs = denoFiles(path);
  try {
    await fs.stat(path);
    return true;
  } catch (e) {
    if (e instanceof fs.errors.NotFound) return false;
    throw new Error(`cannot read ${path}: ${(e as Error).message}`);
  }
}

/** Reads a file, with an error naming the path when it is missing. */
export async function readFileNamed(path: string): Promise<Uint8Array> {
  const fs = denoFiles(path);
  try {
    return await fs.readFile(path);
  } catch (e) {
    if (e instanceof fs.errors.NotFound) {
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
  const fs = denoFiles(dir);
  const removed: string[] = [];
  try {
    for await (const e of fs.readDir(dir)) {
      // Ours are `<name>.tmp-<pid>-<ms>`; a live writer of this process
      // is never running when a command starts.
      if (e.isFile && /\.tmp-\d+-\d+$/.test(e.name)) {
        await fs.remove(`${dir}/${e.name}`).catch(() => {});
        removed.push(e.name);
      }
    }
  } catch (e) {
    if (!(e instanceof fs.errors.NotFound)) throw e;
  }
  return removed;
}
