/**
 * The tfjs-wasm peer (TensorFlow.js 4.22.0, XNNPACK through WebAssembly
 * SIMD): matmul and the convolutions in its native NHWC layout. It has no
 * CNN-F port, and its WebAssembly backend registers no Conv2DBackpropFilter
 * kernel, so those rows are skipped with the reason. Loaded on demand so a
 * missing package only skips this peer.
 *
 * @module
 */

import {
  measure,
  type Outcome,
  type Plan,
  reason,
  type Row,
} from "./workloads.ts";

/** The pinned versions (also in deno.lock). */
export const TFJS_VERSION = "4.22.0";

/** What the peer loaded: its description for the header, or why it could not. */
export interface PeerInfo {
  /** False when the peer could not start. */
  ok: boolean;
  /** One line for the report header. */
  note: string;
}

type Tf = typeof import("npm:@tensorflow/tfjs-core@4.22.0");
type TfTensor = ReturnType<Tf["tensor4d"]>;

let tf: Tf | null = null;

/**
 * Loads tfjs-core and the WebAssembly backend. The threaded build is not
 * used: tfjs turns WASM_HAS_MULTITHREAD_SUPPORT off under Node-compatible
 * runtimes, and forcing it fails because Deno's worker_threads rejects the
 * blob URL emscripten gives its pthread workers.
 */
export async function startTfjs(): Promise<PeerInfo> {
  try {
    const core = await import("npm:@tensorflow/tfjs-core@4.22.0");
    const wasm = await import("npm:@tensorflow/tfjs-backend-wasm@4.22.0");
    if (!(await core.setBackend("wasm"))) {
      return { ok: false, note: "tfjs-wasm: setBackend('wasm') failed" };
    }
    await core.ready();
    tf = core;
    const simd = await core.env().getAsync("WASM_HAS_SIMD_SUPPORT");
    const mt = await core.env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT");
    return {
      ok: true,
      note: `tfjs-wasm ${TFJS_VERSION}: XNNPACK, SIMD ${
        simd ? "on" : "off"
      }, ${wasm.getThreadsCount()} thread(s)${
        mt ? "" : " (tfjs disables its threaded build under Node-compatible" +
          " runtimes such as Deno)"
      }`,
    };
  } catch (e) {
    return { ok: false, note: `tfjs-wasm: cannot load (${reason(e)})` };
  }
}

function uniform(
  t: Tf,
  shape: [number, number, number, number],
  scale = 1,
): TfTensor {
  return t.randomUniform(shape, -scale, scale, "float32", 1) as TfTensor;
}

/** Runs the rows tfjs-wasm has; the rest get a skip reason. */
export async function runTfjs(
  rows: Row[],
  planFor: (r: Row) => Plan,
  onRow: (r: Row, o: Outcome) => void,
): Promise<Map<string, Outcome>> {
  const out = new Map<string, Outcome>();
  const t = tf;
  for (const row of rows) {
    const s = row.spec;
    let o: Outcome;
    if (!t) o = { skip: "not loaded" };
    else if (s.kind === "cnnf") o = { skip: "no CNN-F implementation" };
    else {
      const inputs: { dispose(): void }[] = [];
      try {
        let op: () => { dispose(): void };
        if (s.kind === "matmul") {
          const shape: [number, number] = [s.n, s.n];
          const a = t.tidy(() =>
            t.reshape(uniform(t, [1, 1, s.n, s.n]), shape)
          );
          const b = t.tidy(() =>
            t.reshape(uniform(t, [1, 1, s.n, s.n]), shape)
          );
          inputs.push(a, b);
          op = () => t.matMul(a, b);
        } else {
          const { batch: nb, cin, cout, size } = s;
          const x = uniform(t, [nb, size, size, cin]);
          const w = uniform(t, [3, 3, cin, cout], 0.1);
          const gy = uniform(t, [nb, size, size, cout]);
          inputs.push(x, w, gy);
          op = s.op === "fwd"
            ? () => t.conv2d(x, w, 1, "same")
            : s.op === "dx"
            ? () => t.conv2dTranspose(gy, w, [nb, size, size, cin], 1, "same")
            : () =>
              t.engine().runKernel("Conv2DBackpropFilter", { x, dy: gy }, {
                strides: [1, 1],
                pad: "same",
                dataFormat: "NHWC",
                filterShape: [3, 3, cin, cout],
              }) as TfTensor;
        }
        // The WebAssembly kernels run synchronously; no readback needed.
        o = await measure(() => {
          op().dispose();
        }, planFor(row));
      } catch (e) {
        o = { skip: reason(e) };
      } finally {
        inputs.forEach((i) => i.dispose());
      }
    }
    out.set(row.id, o);
    onRow(row, o);
  }
  return out;
}
