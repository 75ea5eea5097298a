/**
 * The jax-js peer (@jax-js/jax 0.1.25, its `wasm` device: WebAssembly
 * kernels generated at run time, multi-threaded over a SharedArrayBuffer
 * worker pool sized by `navigator.hardwareConcurrency`, which this module
 * sets to the thread count). Matmul, conv2d forward, and the input and
 * weight gradients as jitted vector-Jacobian products of `lax.conv`. It has
 * no CNN-F port. Loaded on demand so a failure only skips this peer.
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
import type { PeerInfo } from "./tfjs.ts";

/** The pinned version (also in deno.lock). */
export const JAXJS_VERSION = "0.1.25";

type Jax = typeof import("npm:@jax-js/jax@0.1.25");
type JArray = InstanceType<Jax["numpy"]["Array"]>;

let jax: Jax | null = null;

/** Loads jax-js with `threads` workers and selects its wasm device. */
export async function startJaxjs(threads: number): Promise<PeerInfo> {
  try {
    // jax-js sizes its worker pool from this; Deno reports the core count.
    Object.defineProperty(navigator, "hardwareConcurrency", {
      value: threads,
      configurable: true,
    });
    const j = await import("npm:@jax-js/jax@0.1.25");
    const devices = await j.init("wasm");
    if (!devices.includes("wasm")) {
      return { ok: false, note: "jax-js: no wasm device" };
    }
    j.defaultDevice("wasm");
    jax = j;
    const shared = typeof SharedArrayBuffer !== "undefined";
    return {
      ok: true,
      note: `jax-js ${JAXJS_VERSION}: wasm device, ${
        shared
          ? `${threads} worker thread(s)`
          : "1 thread (no SharedArrayBuffer)"
      }`,
    };
  } catch (e) {
    return { ok: false, note: `jax-js: cannot load (${reason(e)})` };
  }
}

/** Runs the rows jax-js has; the CNN-F rows get a skip reason. */
export async function runJaxjs(
  rows: Row[],
  planFor: (r: Row) => Plan,
  onRow: (r: Row, o: Outcome) => void,
): Promise<Map<string, Outcome>> {
  const out = new Map<string, Outcome>();
  const j = jax;
  let seed = 0;
  const uniform = (shape: number[], scale = 1): JArray =>
    j!.random.uniform(j!.random.key(++seed), shape, {
      minval: -scale,
      maxval: scale,
    });
  for (const row of rows) {
    const s = row.spec;
    let o: Outcome;
    if (!j) o = { skip: "not loaded" };
    else if (s.kind === "cnnf") o = { skip: "no CNN-F implementation" };
    else {
      const inputs: JArray[] = [];
      try {
        let op: () => JArray;
        if (s.kind === "matmul") {
          const [a, b] = [uniform([s.n, s.n]), uniform([s.n, s.n])];
          inputs.push(a, b);
          op = () => j.numpy.matmul(a.ref, b.ref);
        } else {
          const { batch: nb, cin, cout, size } = s;
          const x = uniform([nb, cin, size, size]);
          const w = uniform([cout, cin, 3, 3], 0.1);
          const gy = uniform([nb, cout, size, size]);
          inputs.push(x, w, gy);
          const pad: [number, number][] = [[1, 1], [1, 1]];
          const conv = (a: JArray, k: JArray) => j.lax.conv(a, k, [1, 1], pad);
          if (s.op === "fwd") op = () => conv(x.ref, w.ref);
          else {
            const f = s.op === "dx"
              ? j.jit((xa: JArray, wa: JArray, g: JArray) =>
                j.vjp((v: JArray) => conv(v, wa), [xa])[1](g)[0]
              )
              : j.jit((xa: JArray, wa: JArray, g: JArray) =>
                j.vjp((v: JArray) => conv(xa, v), [wa])[1](g)[0]
              );
            op = () => f(x.ref, w.ref, gy.ref) as JArray;
          }
        }
        o = await measure(async () => {
          const r = await j.blockUntilReady(op());
          r.dispose();
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
