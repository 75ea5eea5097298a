/**
 * `save(model, path)` and `load(model, path)`: one way to keep a model's
 * weights, as a safetensors file written atomically. CNN-F models are saved
 * under the PyTorch reference's state_dict names (tied weights under every
 * alias), which is the format of the CLI's `cnnf.safetensors` and what
 * PyTorch's `load_state_dict(strict=True)` takes; any other module is saved
 * under its own `stateDict()` names. The byte-level codecs
 * (`encodeSafetensors`, `decodeSafetensors`) stay in `./nn` for those who
 * need bytes rather than files.
 *
 * @module
 */

import {
  loadReferenceStateDict,
  referenceStateDict,
} from "../cnnf/checkpoint.ts";
import { CNNFBase } from "../cnnf/model.ts";
import type { Module } from "../nn/module.ts";
import { decodeSafetensors, encodeSafetensors } from "../nn/safetensors.ts";
import { fromHost, toHost } from "../nn/state.ts";
import { readFileNamed, writeFileAtomic } from "./files.ts";

/** Options of `save`. */
export interface SaveOptions {
  /** String metadata stored in the file's header (`__metadata__`). */
  metadata?: Record<string, string>;
}

function needFiles(op: string): void {
  if (!("Deno" in globalThis)) {
    throw new Error(
      `${op}: file paths need Deno; in a browser use encodeSafetensors/decodeSafetensors from "@cnnf/webgpu/nn"`,
    );
  }
}

/**
 * Writes the model's weights to `path` as safetensors. The write is atomic:
 * a crash leaves the old file or the new one, never half a file.
 * @example Save, then load into a fresh model
 * ```ts
 * import { CNNF, init, load, save } from "@cnnf/webgpu";
 * import assert from "node:assert/strict";
 *
 * await init({ backend: "cpu", seed: 0 });
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * const a = new CNNF({ ind: 2, cycles: 1 });
 * await save(a, path);
 * const b = new CNNF({ ind: 2, cycles: 1 });
 * await load(b, path);
 * const wa = await a.stateDict()["conv1.conv.weight"].data();
 * const wb = await b.stateDict()["conv1.conv.weight"].data();
 * assert.deepEqual(wb, wa);
 * await Deno.remove(path);
 * ```
 */
export async function save(
  model: Module,
  path: string,
  options: SaveOptions = {},
): Promise<void> {
  needFiles("save");
  const host = model instanceof CNNFBase
    ? await referenceStateDict(model)
    : await toHost(model.stateDict());
  await writeFileAtomic(path, encodeSafetensors(host, options.metadata));
}

/**
 * Reads weights saved by `save` (or by the CLI, or exported from the
 * PyTorch reference) into `model`. Every parameter must be present with its
 * shape and no key may be left over, as with PyTorch's strict loading;
 * errors name the path and the key.
 * @example Loading weights the CLI wrote
 * ```ts ignore
 * import { CNNF, load } from "@cnnf/webgpu";
 * const model = new CNNF({ ind: 2, cycles: 1, resParam: 0.1 });
 * await load(model, "runs/fmnist/cnnf.safetensors");
 * ```
 */
export async function load(model: Module, path: string): Promise<void> {
  needFiles("load");
  const { tensors } = decodeSafetensors(await readFileNamed(path), path);
  if (model instanceof CNNFBase) {
    loadReferenceStateDict(model, tensors, { source: path });
    return;
  }
  const backend = model.parameters()[0]?.backend;
  const dict = fromHost(tensors, backend);
  try {
    model.loadStateDict(dict, { source: path });
  } finally {
    Object.values(dict).forEach((t) => t.dispose());
  }
}
