/**
 * Reads CIFAR-10 binary batches from a folder: the Deno edge over the pure
 * parser of `cifar.ts`.
 *
 * @module
 */

import { readFileNamed } from "../files.ts";
import {
  CIFAR10_FILES,
  type CifarBatch,
  cifarDataset,
  parseCifarBatch,
} from "./cifar.ts";
import type { Dataset } from "./dataset.ts";

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/**
 * Reads a split of CIFAR-10 from a folder holding the binary batch files,
 * or from its `cifar-10-batches-bin` subfolder (as the archive extracts).
 * Errors name the file.
 * @param dir The folder.
 * @param split "train" (50,000 images) or "test" (10,000).
 * @example
 * ```ts ignore
 * import { loadCifar10 } from "@cnnf/webgpu/data";
 * const test = await loadCifar10("data/cifar-10-batches-bin", "test");
 * console.log(test.n, test.shape); // 10000 [3, 32, 32]
 * ```
 */
export async function loadCifar10(
  dir: string,
  split: "train" | "test" = "train",
): Promise<Dataset> {
  const files = CIFAR10_FILES[split];
  if (!files) throw new Error(`loadCifar10: unknown split '${split}'`);
  let base = dir.replace(/\/+$/, "");
  const nested = `${base}/cifar-10-batches-bin`;
  if (
    !(await isFile(`${base}/${files[0]}`)) &&
    await isFile(`${nested}/${files[0]}`)
  ) base = nested;
  const parts: CifarBatch[] = [];
  for (const f of files) {
    const path = `${base}/${f}`;
    parts.push(parseCifarBatch(await readFileNamed(path), path));
  }
  return cifarDataset(parts, `CIFAR-10 ${split} split from ${base}`);
}
