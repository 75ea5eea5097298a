import assert from "node:assert/strict";
import { clipGradNorm, SGD } from "../../nn/optim.ts";
import {
  CNNF,
  cnnfAdvLoss,
  loadReferenceStateDict,
  referenceStateDict,
  WideResNet,
} from "../../cnnf/mod.ts";
import { decodeSafetensors, encodeSafetensors } from "../../nn/mod.ts";
import { noGrad } from "../../autograd/mod.ts";
import { randn, readAll, type Tensor, tidy } from "../../tensor/mod.ts";
import { testBackends } from "../_util.ts";
import {
  assertRelClose,
  fixture,
  fx,
  initDeterministic,
  sampleIndices,
} from "./_fixtures.ts";

const REL = 1e-4;
const fm = fixture("fmnist_parity.safetensors").tensors;
const wrnFix = fixture("wrn_small_parity.safetensors");
const wr = wrnFix.tensors;
const wrnRef = fixture("wrn_small_reference.safetensors");

async function compare(t: Tensor, expected: ArrayLike<number>, what: string) {
  assertRelClose(await t.data(), expected, REL, what);
}

testBackends(
  "Fashion-MNIST CNN-F entry points match PyTorch for ind 0, 1, 2",
  async () => {
    for (const ind of [0, 1, 2]) {
      const model = new CNNF({ ind, cycles: 2 });
      initDeterministic(model, 1000);
      const p = `fmnist.ind${ind}`;
      const outs = noGrad(() =>
        tidy(() => {
          const x = fx(fm, "fmnist.x");
          const first = model.runFirst(x);
          const last = model.runCycles(x);
          const avg = model.runAverage(x);
          model.reset();
          const f = model.forward(x);
          const fb = model.feedback(f.logits);
          return [first, last, avg, fb.recon, ...fb.blocks];
        })
      );
      const names = [
        "first",
        "last",
        "average",
        "recon",
        "recon_block1",
        "recon_block2",
      ];
      const data = await readAll(outs);
      names.forEach((n, i) =>
        assertRelClose(data[i], fm[`${p}.${n}`].data, REL, `${p}.${n}`)
      );
      outs.forEach((t) => t.dispose());
      model.reset();
      model.parameters().forEach((t) => t.dispose());
    }
  },
);

/** Runs the fixture's training step and checks loss, gradients and updated weights. */
async function checkTrainStep(
  model: CNNF | WideResNet,
  f: Record<string, import("../../nn/mod.ts").HostTensor>,
  prefix: string,
  sampled: boolean,
) {
  model.train();
  const named = model.namedParameters();
  const loss = tidy(() => {
    const r = cnnfAdvLoss(
      model,
      fx(f, `${prefix}.x`),
      fx(f, `${prefix}.adv`),
      fx(f, `${prefix}.labels`),
      {
        cleanParam: 0.1,
        mseParam: 0.1,
      },
    );
    r.loss.backward();
    return r.loss;
  });
  const pre = prefix.split(".")[0];
  await compare(loss, f[`${pre}.train.loss`].data, "training loss");
  const pick = async (t: Tensor) => {
    const d = await t.data();
    return sampled ? sampleIndices(d.length).map((i) => d[i]) : Array.from(d);
  };
  for (const [name, p] of named) {
    assertRelClose(
      await pick(p.grad!),
      f[`${pre}.train.grad.${name}`].data,
      REL,
      `grad ${name}`,
    );
  }
  clipGradNorm(model.parameters(), 0.5).dispose();
  const opt = new SGD(model.parameters(), {
    lr: 0.05,
    momentum: 0.9,
    weightDecay: 5e-4,
  });
  opt.step();
  for (const [name, p] of named) {
    assertRelClose(
      await pick(p),
      f[`${pre}.train.step.${name}`].data,
      REL,
      `weight after step ${name}`,
    );
  }
  loss.dispose();
}

testBackends(
  "Fashion-MNIST CNN-F training loss, gradients and clipped SGD step match PyTorch",
  async () => {
    const model = new CNNF({ ind: 2, cycles: 1 });
    initDeterministic(model, 1000);
    const f = { ...fm, "fmnist.x": fm["fmnist.x"] };
    await checkTrainStep(model, f, "fmnist", true);
  },
);

testBackends(
  "a reference WRN checkpoint loads and its entry points match PyTorch",
  async () => {
    for (const [ind, cycles] of [[1, 2], [0, 1]]) {
      const model = new WideResNet({ depth: 10, widenFactor: 1, ind, cycles });
      loadReferenceStateDict(model, wrnRef.tensors, {
        source: "wrn_small_reference.safetensors",
      });
      const p = `wrn.ind${ind}`;
      const outs = noGrad(() =>
        tidy(() => {
          const x = fx(wr, "wrn.x");
          const r = [
            model.runFirst(x),
            model.runCycles(x),
            model.runAverage(x),
          ];
          model.reset();
          const fb = model.feedback(model.forward(x).logits);
          return [...r, fb.recon, ...fb.blocks];
        })
      );
      const names = [
        "first",
        "last",
        "average",
        "recon",
        "recon_block1",
        "recon_block2",
        "recon_block3",
      ];
      const data = await readAll(outs);
      names.forEach((n, i) =>
        assertRelClose(data[i], wr[`${p}.${n}`].data, REL, `${p}.${n}`)
      );
      outs.forEach((t) => t.dispose());
      model.reset();
    }
  },
);

testBackends(
  "WRN training loss, all gradients and clipped SGD step match PyTorch",
  async () => {
    const model = new WideResNet({
      depth: 10,
      widenFactor: 1,
      ind: 1,
      cycles: 2,
    });
    loadReferenceStateDict(model, wrnRef.tensors);
    await checkTrainStep(model, wr, "wrn", false);
  },
);

testBackends(
  "checkpoints use the reference's state_dict names and round-trip",
  async () => {
    const model = new WideResNet({
      depth: 10,
      widenFactor: 1,
      ind: 1,
      cycles: 2,
    });
    loadReferenceStateDict(model, wrnRef.tensors);
    const sd = await referenceStateDict(model);
    const want = JSON.parse(wrnFix.metadata.state_dict_keys) as string[];
    assert.deepEqual(Object.keys(sd).sort(), want);
    const bytes = encodeSafetensors(sd);
    const back = decodeSafetensors(bytes, "roundtrip");
    const m2 = new WideResNet({ depth: 10, widenFactor: 1, ind: 1, cycles: 2 });
    loadReferenceStateDict(m2, back.tensors);
    const [a, b] = noGrad(() =>
      tidy(() => {
        const x = fx(wr, "wrn.x");
        return [model.runAverage(x), m2.runAverage(x)];
      })
    );
    assert.deepEqual(await a.data(), await b.data());
    // A wrong shape or a missing key names the key.
    const bad = { ...back.tensors };
    delete bad["fc_bias.bias"];
    assert.throws(
      () => loadReferenceStateDict(m2, bad, { source: "x.safetensors" }),
      /x\.safetensors: missing key fc_bias\.bias/,
    );
    const wrong = {
      ...back.tensors,
      "fc.linear_t.weight": back.tensors["fc.weight"],
    };
    assert.throws(
      () => loadReferenceStateDict(m2, wrong),
      /key fc\.linear_t\.weight has shape \[10, 64\] F32, expected \[64, 10\]/,
    );
  },
);

testBackends("the full WRN-40-2 builds and runs a forward pass", async (b) => {
  const model = new WideResNet({
    depth: 40,
    widenFactor: 2,
    ind: 5,
    cycles: 2,
  });
  // conv1, 18 blocks x 4, 3 shortcut convs, head bias, fc, fc bias: 2.24M
  // weights, as the reference's WRN-40-2.
  assert.equal(model.parameters().length, 1 + 18 * 4 + 3 + 3);
  assert.equal(model.parameters().reduce((s, p) => s + p.size, 0), 2240842);
  if (b === "webgpu") return; // The software adapter is too slow for this size.
  const y = noGrad(() => model.runFirst(randn([1, 3, 32, 32])));
  assert.deepEqual(y.shape, [1, 10]);
  assert.ok((await y.data()).every(Number.isFinite));
});
