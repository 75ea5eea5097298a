/**
 * Small models for the attack tests: a binary linear classifier with known
 * worst-case perturbations, an nn-built MLP with dropout (to see eval mode
 * at work), a raw-tensor MLP trained on synthetic blobs on the CPU, and
 * helpers to read values back and snapshot a module's state.
 */

import "../../autograd/mod.ts";
import { Dropout, Linear, Module, ReLU, Sequential } from "../../nn/mod.ts";
import { SGD } from "../../nn/optim.ts";
import type { CNNFBase } from "../../cnnf/mod.ts";
import {
  type BackendName,
  crossEntropy,
  init,
  type Tensor,
  tensor,
  tidy,
} from "../../tensor/mod.ts";
import type { PredictFn } from "../../attacks/mod.ts";
import { randomData } from "../_util.ts";

/** Host copy of a tensor's values. */
export async function values(t: Tensor): Promise<number[]> {
  return Array.from(await t.data());
}

/** Reads a tensor and disposes it. */
export async function take(t: Tensor): Promise<number[]> {
  const v = await values(t);
  t.dispose();
  return v;
}

/**
 * Binary linear classifier on [N, D]: logits [w·x + b, 0], so class 0 is
 * predicted when the margin w·x + b is positive.
 */
export function linearBinary(w: number[], b: number): PredictFn {
  const wt = tensor(w, [w.length, 1]);
  const zero = tensor([[1, 0]]);
  return (x) => tidy(() => x.matmul(wt).add(b).mul(zero));
}

/** An MLP with dropout built from nn layers: 16 inputs ([N, 1, 4, 4]). */
export class SmallNet extends Module {
  /** The layers. */
  readonly net: Sequential;
  /** Training flags seen by forward calls. */
  seenTraining: boolean[] = [];
  /**
   * Creates it (weights from the global stream).
   * @param classes Output classes.
   */
  constructor(classes = 5) {
    super();
    this.net = new Sequential(
      new Linear(16, 24),
      new ReLU(),
      new Dropout(0.5),
      new Linear(24, classes),
    );
  }
  /** Logits. */
  forward(x: Tensor): Tensor {
    this.seenTraining.push(this.training);
    return tidy(() => this.net.forward(x.reshape([x.shape[0], -1])).mul(3));
  }
}

/** Deterministic inputs in [-1, 1] with some pixels on the boundary. */
export function images(n: number, seed = 7, side = 4): Tensor {
  const d = randomData(n * side * side, seed, -1.3, 1.3).map((v) =>
    Math.max(-1, Math.min(1, v))
  );
  return tensor(d, [n, 1, side, side]);
}

/** Parameters' values, `.grad` and `requiresGrad`, read back. */
export async function paramState(
  m: Module,
): Promise<{ values: number[][]; grads: boolean[]; req: boolean[] }> {
  const ps = m.parameters();
  return {
    values: await Promise.all(ps.map(values)),
    grads: ps.map((p) => p.grad !== null),
    req: ps.map((p) => p.requiresGrad),
  };
}

/** Every latent tensor of a CNN-F model, read back (null where empty). */
export async function latentState(
  m: CNNFBase,
): Promise<(number[] | null)[]> {
  const out: (number[] | null)[] = [];
  for (const l of m.latentLayers()) {
    const fields = "posInd" in l
      ? [l.posInd, l.negInd, l.posState, l.negState, l.hidden]
      : [l.mask, l.hidden];
    for (const f of fields) out.push(f ? await values(f) : null);
  }
  return out;
}

/** Host weights of the trained blob classifier. */
export interface MlpWeights {
  /** [D, H]. */
  w1: Float32Array;
  /** [H]. */
  b1: Float32Array;
  /** [H, C]. */
  w2: Float32Array;
  /** [C]. */
  b2: Float32Array;
  /** Sizes. */
  dims: [number, number, number];
}

/** Synthetic blobs: C classes in D dimensions, inside [-1, 1]. */
export function blobs(
  n: number,
  seed: number,
  d = 16,
  c = 5,
): { x: Float32Array; y: Int32Array } {
  const centers = randomData(c * d, 99, -0.6, 0.6);
  const noise = randomData(n * d, seed, -0.5, 0.5);
  const x = new Float32Array(n * d);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % c;
    for (let j = 0; j < d; j++) {
      const v = centers[y[i] * d + j] + noise[i * d + j];
      x[i * d + j] = Math.max(-1, Math.min(1, v));
    }
  }
  return { x, y };
}

let trained: Promise<MlpWeights> | null = null;

/**
 * Trains a 16-32-5 MLP on blobs with 300 SGD steps on the CPU (once per
 * process) and returns its weights; restores `backend` as the default.
 */
export function trainedMlp(backend: BackendName): Promise<MlpWeights> {
  trained ??= (async () => {
    await init({ backend: "cpu", seed: 3 });
    const fc1 = new Linear(16, 32);
    const fc2 = new Linear(32, 5);
    const params = [...fc1.parameters(), ...fc2.parameters()];
    const opt = new SGD(params, { lr: 0.1, momentum: 0.9 });
    const { x, y } = blobs(96, 5);
    const xt = tensor(x, [96, 16]);
    const yt = tensor(y, [96], { dtype: "int32" });
    for (let step = 0; step < 300; step++) {
      tidy(() => {
        const loss = crossEntropy(fc2.forward(fc1.forward(xt).relu()), yt);
        loss.backward();
        opt.step();
        opt.zeroGrad();
      });
    }
    const w = {
      w1: Float32Array.from(await fc1.weight.transpose().data()),
      b1: Float32Array.from(await fc1.bias!.data()),
      w2: Float32Array.from(await fc2.weight.transpose().data()),
      b2: Float32Array.from(await fc2.bias!.data()),
      dims: [16, 32, 5] as [number, number, number],
    };
    return w;
  })();
  return trained.then(async (w) => {
    await init({ backend });
    return w;
  });
}

/** The trained MLP as a prediction function on the default backend. */
export function mlpPredict(w: MlpWeights): PredictFn {
  const [d, h, c] = w.dims;
  const w1 = tensor(w.w1, [d, h]);
  const b1 = tensor(w.b1, [h]);
  const w2 = tensor(w.w2, [h, c]);
  const b2 = tensor(w.b2, [c]);
  return (x) =>
    tidy(() =>
      x.reshape([x.shape[0], d]).matmul(w1).add(b1).relu().matmul(w2).add(b2)
    );
}
