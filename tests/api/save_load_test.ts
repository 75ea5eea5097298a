/**
 * `save`/`load`: one call each, atomic files under the reference's names,
 * the same keys the CLI writes, and files PyTorch loads strictly.
 */

import assert from "node:assert/strict";
import {
  CNNF,
  init,
  Linear,
  load,
  rand,
  ReLU,
  save,
  Sequential,
  tidy,
} from "../../mod.ts";
import { decodeSafetensors, referenceStateDict } from "../../internals.ts";
import { testBackends } from "../_util.ts";

async function tempDir(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "cnnf_save_" });
}

testBackends("a CNN-F saved and loaded gives the same logits", async () => {
  const dir = await tempDir();
  const path = `${dir}/cnnf.safetensors`;
  const a = new CNNF({ ind: 2, cycles: 1 });
  await save(a, path, { metadata: { note: "test" } });
  const b = new CNNF({ ind: 2, cycles: 1 }); // different random weights
  await load(b, path);
  using x = rand([2, 1, 28, 28]);
  const [la, lb] = tidy(() => [a.runAverage(x), b.runAverage(x)]);
  assert.deepEqual(await lb.data(), await la.data());
  la.dispose();
  lb.dispose();
  // Nothing else in the folder: the temporary file was renamed into place.
  const names = [...Deno.readDirSync(dir)].map((e) => e.name);
  assert.deepEqual(names, ["cnnf.safetensors"]);
  a.dispose();
  b.dispose();
  await Deno.remove(dir, { recursive: true });
});

testBackends(
  "save writes the CLI's keys (reference names with aliases)",
  async () => {
    const dir = await tempDir();
    const path = `${dir}/cnnf.safetensors`;
    const m = new CNNF({ ind: 2, cycles: 1 });
    await save(m, path);
    const { tensors, metadata } = decodeSafetensors(await Deno.readFile(path));
    const cli = await referenceStateDict(m); // what train/run.ts writes
    assert.deepEqual(Object.keys(tensors).sort(), Object.keys(cli).sort());
    assert.ok(
      "conv1.conv_t.weight" in tensors && "fc1.linear_t.weight" in tensors,
    );
    assert.deepEqual(tensors["fc1.linear_t.weight"].shape, [3136, 1000]);
    assert.deepEqual(metadata, {});
    m.dispose();
    await Deno.remove(dir, { recursive: true });
  },
);

testBackends("load names the path and key of a bad file", async () => {
  const dir = await tempDir();
  const small = `${dir}/mlp.safetensors`;
  const mlp = new Sequential(new Linear(4, 3), new ReLU(), new Linear(3, 2));
  await save(mlp, small);
  const { tensors } = decodeSafetensors(await Deno.readFile(small));
  assert.deepEqual(Object.keys(tensors).sort(), [
    "0.bias",
    "0.weight",
    "2.bias",
    "2.weight",
  ]);
  const other = new Sequential(new Linear(4, 5), new ReLU(), new Linear(5, 2));
  await assert.rejects(
    () => load(other, small),
    new RegExp(
      `^Error: ${small}: key 0\\.weight has shape \\[3, 4\\] float32, expected \\[5, 4\\] float32$`,
    ),
  );
  const cnnf = new CNNF({ ind: 2, cycles: 1 });
  await assert.rejects(
    () => load(cnnf, small),
    /mlp\.safetensors: missing key conv1\.conv\.weight/,
  );
  await assert.rejects(
    () => load(mlp, `${dir}/nope.safetensors`),
    /file not found: .*nope\.safetensors/,
  );
  // A plain module round-trips under its stateDict names.
  const again = new Sequential(new Linear(4, 3), new ReLU(), new Linear(3, 2));
  await load(again, small);
  assert.deepEqual(
    await again.stateDict()["2.bias"].data(),
    await mlp.stateDict()["2.bias"].data(),
  );
  for (const m of [mlp, other, cnnf, again]) m.dispose();
  await Deno.remove(dir, { recursive: true });
});

const TORCH = "/usr/bin/python3";
const hasTorch = (() => {
  try {
    return new Deno.Command(TORCH, { args: ["-c", "import torch"] })
      .outputSync().success;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "PyTorch's load_state_dict(strict=True) takes a file save() wrote",
  ignore: !hasTorch,
  async fn() {
    await init({ backend: "cpu", seed: 3 });
    const dir = await tempDir();
    const path = `${dir}/cnnf.safetensors`;
    const m = new CNNF({ ind: 2, cycles: 1 });
    await save(m, path);
    using x = rand([2, 1, 28, 28]).mul(2).sub(1);
    using logits = m.runAverage(x);
    const xs = JSON.stringify([...await x.data()]);
    const want = [...await logits.data()];
    const script = `
import sys, json, torch
sys.path.insert(0, ${
      JSON.stringify(new URL("../../tools", import.meta.url).pathname)
    })
import make_fixtures as mf
m = mf.FmnistCNNF(ind=2, cycles=1)
m.load_state_dict(mf.read_safetensors(sys.argv[1]), strict=True)
m.eval()
x = torch.tensor(json.loads(sys.stdin.read())).reshape(2, 1, 28, 28)
with torch.no_grad():
    outs = m.run_all(x)
print(json.dumps((sum(outs) / len(outs)).flatten().tolist()))
`;
    const p = new Deno.Command(TORCH, {
      args: ["-c", script, path],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const w = p.stdin.getWriter();
    await w.write(new TextEncoder().encode(xs));
    await w.close();
    const out = await p.output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const got = JSON.parse(new TextDecoder().decode(out.stdout)) as number[];
    const err = Math.max(...got.map((v, i) => Math.abs(v - want[i])));
    assert.ok(err < 1e-4, `PyTorch logits differ by ${err}`);
    m.dispose();
    await Deno.remove(dir, { recursive: true });
  },
});
