/**
 * Writes a checkpoint with this library for the PyTorch side to read back:
 * a small Wide ResNet CNN-F (depth 10, width 1, ind 1, 2 cycles) under the
 * reference's state_dict names, plus an input and this library's averaged
 * logits. Then run `/usr/bin/python3 tools/make_fixtures.py --check-ts`,
 * which loads the weights with `load_state_dict(strict=True)` and compares
 * the logits.
 *
 * ```sh
 * deno run -A tools/export_ts_checkpoint.ts
 * ```
 */

import { noGrad } from "../autograd/mod.ts";
import { referenceStateDict, WideResNet } from "../cnnf/mod.ts";
import { normal_ } from "../nn/mod.ts";
import { init, randn, tidy } from "../tensor/mod.ts";
import { toHost } from "../nn/mod.ts";
import { saveSafetensors } from "../train/files.ts";

await init({ backend: "cpu", seed: 7 });
const model = new WideResNet({ depth: 10, widenFactor: 1, ind: 1, cycles: 2 });
// Non-zero biases, so a key mix-up cannot go unnoticed.
for (const [name, p] of model.namedParameters()) {
  if (name.endsWith("bias")) normal_(p, 0, 0.1);
}
const x = tidy(() => randn([2, 3, 32, 32]).clamp(-1, 1));
const avg = noGrad(() => model.runAverage(x));
const dir = new URL("../tests/fixtures/", import.meta.url).pathname;
await saveSafetensors(
  `${dir}ts_wrn_small.safetensors`,
  await referenceStateDict(model),
  { format: "pt" },
);
await saveSafetensors(
  `${dir}ts_wrn_small_logits.safetensors`,
  await toHost({ x, average: avg }),
);
console.log(
  `wrote ${dir}ts_wrn_small.safetensors and ts_wrn_small_logits.safetensors`,
);
