/**
 * Attacks on CNN-F: the targets compute what they claim (first pass, last
 * and averaged logits through the cycles, every pass, identity gradient
 * through the feedback update), and attacks leave the model's parameters,
 * their `.grad`, its mode and its latent state as they found them. A tiny
 * CNN-F built from the feedback layers (1x8x8 inputs) keeps lavapipe fast;
 * one test runs the Fashion-MNIST model itself.
 */

import assert from "node:assert/strict";
import { grad } from "../../autograd/mod.ts";
import {
  AdaPool,
  AdaReLU,
  Bias,
  CNNF,
  CNNFBase,
  FbConv2d,
  FbFlatten,
  FbLinear,
  type FeedbackResult,
  type ForwardResult,
  insNorm,
} from "../../cnnf/mod.ts";
import {
  APGD,
  type Attack,
  cnnfTarget,
  LinfPGD,
  LinfSPSA,
  Square,
} from "../../attacks/mod.ts";
import { memoryStats, type Tensor, tensor, tidy } from "../../tensor/mod.ts";
import { assertClose, testBackends } from "../_util.ts";
import { images, latentState, paramState, take } from "./_models.ts";

/** A one-conv, two-fc CNN-F on 1x8x8 images reconstructing to the image. */
class TinyCNNF extends CNNFBase {
  readonly conv1 = new FbConv2d(1, 4, 3, { padding: 1 });
  readonly ins1_bias = new Bias([1, 4, 1, 1]);
  readonly fc1 = new FbLinear(64, 12);
  readonly fc1_bias = new Bias([1, 12]);
  readonly fc2 = new FbLinear(12, 5);
  readonly fc2_bias = new Bias([1, 5]);
  readonly relus = [new AdaReLU(0.5), new AdaReLU(0.5)];
  readonly pool = new AdaPool(2);
  readonly #flatten = new FbFlatten();

  constructor(cycles = 2) {
    super({ cycles, resParam: 0.5, ind: 0 });
    tidy(() => {
      // Larger fc weights make the feedback matter.
      this.fc1.weight.assign(this.fc1.weight.mul(3));
      this.fc2.weight.assign(this.fc2.weight.mul(3));
    });
  }
  forward(x: Tensor, options: { first?: boolean } = {}): ForwardResult {
    return tidy(() => {
      let h = this.relus[0].forward(
        this.ins1_bias.forward(insNorm(this.conv1.forward(x))),
      );
      const block1 = h;
      h = this.#flatten.forward(this.pool.forward(h));
      h = this.relus[1].forward(this.fc1_bias.forward(this.fc1.forward(h)));
      const logits = this.fc2_bias.forward(this.fc2.forward(h));
      return options.first ?? true
        ? { logits, feature: x, blocks: [block1] }
        : { logits };
    });
  }
  feedback(logits: Tensor): FeedbackResult {
    return tidy(() => {
      let h = this.relus[1].feedback(this.fc2.feedback(logits));
      h = insNorm(this.#flatten.feedback(this.fc1.feedback(h)));
      h = this.relus[0].feedback(this.pool.feedback(h));
      const block1 = h;
      return { recon: this.conv1.feedback(insNorm(h)), blocks: [block1] };
    });
  }
  latentLayers(): (AdaReLU | AdaPool)[] {
    return [...this.relus, this.pool];
  }
}

function tiny() {
  const model = new TinyCNNF(2);
  const x = images(3, 5, 8);
  const y = tensor([0, 1, 2], [3], { dtype: "int32" });
  return { model, x, y };
}

const mean = (ts: Tensor[]) =>
  tidy(() => ts.reduce((a, b) => a.add(b)).div(ts.length));

testBackends(
  "CNN-F targets compute the first pass, the last and averaged logits and every pass",
  async () => {
    const { model, x } = tiny();
    const outs = model.runAll(x);
    const all = await Promise.all(outs.map((o) => take(o.clone())));
    const avg = await take(mean(outs));
    outs.forEach((o) => o.dispose());
    const run = async (mode: "first" | "e2eLast" | "e2eAvg" | "multiExit") =>
      await Promise.all(
        cnnfTarget(model, mode).run(x).heads.map((h) => take(h)),
      );
    const tol = { atol: 1e-5, rtol: 1e-5 };
    assertClose((await run("first"))[0], all[0], tol, "first");
    assertClose((await run("e2eLast"))[0], all[2], tol, "e2eLast");
    assertClose((await run("e2eAvg"))[0], avg, tol, "e2eAvg");
    const multi = await run("multiExit");
    assert.equal(multi.length, 3);
    multi.forEach((m, i) => assertClose(m, all[i], tol, `pass ${i}`));
    // The decision rule is separate from what is attacked.
    const t = cnnfTarget(model, "first", { decision: "last" });
    assertClose(await take(t.decide(x)), all[2], tol, "decide last");
    assertClose(
      await take(cnnfTarget(model, "e2eLast", { cycles: 0 }).run(x).heads[0]),
      all[0],
      tol,
      "cycles 0",
    );
  },
);

testBackends(
  "identity feedback gradient keeps the forward values and changes the gradient",
  async () => {
    const { model, x, y } = tiny();
    const full = cnnfTarget(model, "e2eLast");
    const ident = cnnfTarget(model, "e2eLast", { feedbackGrad: "identity" });
    assert.equal(ident.name, "e2eLast+bpda");
    const tol = { atol: 1e-5, rtol: 1e-5 };
    assertClose(
      await take(ident.run(x).heads[0]),
      await take(full.run(x).heads[0]),
      tol,
    );
    const g = async (t: typeof full) => {
      const [d] = grad((v) =>
        tidy(() => {
          const z = t.run(v).heads[0];
          return z.mul(tensor([[1, 0, 0, 0, 0]])).sum();
        })
      )(x);
      return await take(d);
    };
    const a = await g(full);
    const b = await g(ident);
    assert.ok(a.some((v, i) => Math.abs(v - b[i]) > 1e-6));
    void y;
  },
);

testBackends(
  "attacks on a CNN-F restore its latent state and leave parameters, .grad and mode untouched",
  async () => {
    const { model, x, y } = tiny();
    // A non-trivial latent state from an earlier batch, in training mode.
    tidy(() => model.runAverage(images(2, 9, 8)));
    model.train();
    const latent = await latentState(model);
    const params = await paramState(model);
    assert.ok(latent.some((l) => l !== null));
    const attacks: [Attack, number][] = [
      [
        new LinfPGD(cnnfTarget(model, "first"), {
          eps: 0.2,
          nbIter: 2,
          epsIter: 0.1,
        }),
        0.2,
      ],
      [
        new LinfPGD(cnnfTarget(model, "e2eAvg"), {
          eps: 0.2,
          nbIter: 2,
          epsIter: 0.1,
        }),
        0.2,
      ],
      [
        new LinfPGD(
          cnnfTarget(model, "multiExit", { feedbackGrad: "identity" }),
          { eps: 0.1, nbIter: 2, epsIter: 0.05 },
        ),
        0.1,
      ],
      [new APGD(cnnfTarget(model, "e2eLast"), { eps: 0.1, nIter: 3 }), 0.1],
      [
        new LinfSPSA(cnnfTarget(model, "first"), {
          eps: 0.1,
          nbSample: 4,
          maxBatchSize: 2,
        }),
        0.1,
      ],
      [new Square(cnnfTarget(model, "e2eAvg"), { eps: 0.1, nQueries: 4 }), 0.1],
    ];
    for (const [a, eps] of attacks) {
      const r = await a.perturb(x, y);
      const gap = await take(tidy(() => r.adv.sub(x).abs().max()));
      const range = await take(tidy(() => r.adv.abs().max()));
      r.adv.dispose();
      assert.ok(gap[0] <= eps + 1e-6, `${a.name}: ${gap[0]} > ${eps}`);
      assert.ok(range[0] <= 1);
      assert.deepEqual(await latentState(model), latent, `${a.name}: latent`);
      const p = await paramState(model);
      assert.deepEqual(p.values, params.values, `${a.name}: weights`);
      assert.deepEqual(p.grads, params.grads.map(() => false));
      assert.deepEqual(p.req, params.req);
      assert.ok(model.modules().every((m) => m.training));
    }
  },
);

testBackends(
  "end-to-end PGD on the Fashion-MNIST CNN-F stays within eps and restores its state",
  async () => {
    const model = new CNNF({ ind: 2, cycles: 1 });
    const x = images(1, 3, 28);
    const y = tensor([4], [1], { dtype: "int32" });
    tidy(() => model.runAverage(x));
    const latent = await latentState(model);
    const pgd = new LinfPGD(cnnfTarget(model, "e2eAvg"), {
      eps: 0.2,
      epsIter: 0.071,
      nbIter: 1,
    });
    const r = await pgd.perturb(x, y);
    const gap = await take(tidy(() => r.adv.sub(x).abs().max()));
    r.adv.dispose();
    assert.ok(gap[0] <= 0.2 + 1e-6);
    assert.deepEqual(await latentState(model), latent);
    assert.equal(r.queries[0], 1);
  },
);

testBackends(
  "attacks on a CNN-F free every tensor they make, latent state included",
  async (b) => {
    const { model, x, y } = tiny();
    tidy(() => model.runAverage(x));
    const attacks = [
      new LinfPGD(cnnfTarget(model, "e2eAvg"), { eps: 0.1, nbIter: 2 }),
      new LinfPGD(cnnfTarget(model, "multiExit"), { eps: 0.1, nbIter: 2 }),
      new APGD(cnnfTarget(model, "first"), { eps: 0.1, nIter: 2 }),
    ];
    const run = async () => {
      for (const a of attacks) (await a.perturb(x, y)).adv.dispose();
    };
    await run();
    const before = memoryStats(b).liveBuffers;
    await run();
    assert.equal(memoryStats(b).liveBuffers, before);
  },
);
