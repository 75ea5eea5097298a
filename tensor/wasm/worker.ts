/**
 * The pool's worker: instantiates the kernel module over the shared memory,
 * then sleeps on the job counter, joins each job by claiming units, and
 * ends itself after `IDLE_MS` without work. See pool.ts for the protocol.
 *
 * @module
 */

import { claim, CTL, IDLE_MS } from "./pool.ts";

type KernelFn = (unit: number, args: number) => void;

self.onmessage = (e: MessageEvent) => {
  const { bytes, memory } = e.data as {
    bytes: Uint8Array<ArrayBuffer>;
    memory: WebAssembly.Memory;
  };
  const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
    env: { mem: memory },
  });
  const fns = Object.values(inst.exports) as KernelFn[];
  const ctl = new Int32Array(memory.buffer, 0, 8);
  const next = new BigUint64Array(memory.buffer, 0, 8);
  let seen = Atomics.load(ctl, CTL.seq);
  Atomics.add(ctl, CTL.ready, 1);
  for (;;) {
    const r = Atomics.wait(ctl, CTL.seq, seen, IDLE_MS);
    if (r === "timed-out" && Atomics.load(ctl, CTL.seq) === seen) break;
    seen = Atomics.load(ctl, CTL.seq);
    Atomics.add(ctl, CTL.active, 1);
    const fn = fns[Atomics.load(ctl, CTL.kernel)];
    const args = Atomics.load(ctl, CTL.args);
    const ran = claim(next, seen, Atomics.load(ctl, CTL.units), fn, args);
    if (ran > 0) Atomics.add(ctl, CTL.workerUnits, ran);
    if (Atomics.sub(ctl, CTL.active, 1) === 1) {
      Atomics.notify(ctl, CTL.active);
    }
  }
  Atomics.sub(ctl, CTL.ready, 1);
  Atomics.sub(ctl, CTL.live, 1);
  (self as unknown as { close(): void }).close();
};
