/**
 * A persistent pool of Workers sharing the runtime's WebAssembly memory.
 *
 * The CPU backend is synchronous, so a launch cannot await messages: the
 * calling thread writes the job into control words at the start of the
 * shared memory, wakes the workers with `Atomics.notify`, claims units
 * itself and then waits (`Atomics.wait`) until every worker that joined has
 * finished. Units are claimed by compare-and-swap on a 64-bit word holding
 * (job tag, next unit), so a worker that wakes late can never take a unit
 * of a later job. Which thread runs a unit never changes its result.
 *
 * Workers end themselves after an idle second (so a finished script exits
 * by itself and nothing keeps a test or benchmark alive) and are started
 * again by the next launch. Where a worker cannot start (no script at the
 * URL in a bundle, no Worker in the page) the pool marks itself broken and
 * the runtime stays on one thread.
 *
 * @module
 */

/** Int32 control word indices. */
export const CTL = {
  seq: 0,
  active: 1,
  kernel: 2,
  args: 3,
  units: 4,
  live: 5,
  ready: 6,
  workerUnits: 7,
} as const;
/** Index of the (tag, next unit) word in a BigUint64Array over byte 0. */
export const NEXT = 4;
/** Milliseconds a worker waits for work before it ends itself. */
export const IDLE_MS = 1000;

/** Claims and runs units of job `tag` until none is left; returns how many. */
export function claim(
  next: BigUint64Array,
  tag: number,
  units: number,
  fn: (unit: number, args: number) => void,
  args: number,
): number {
  const t = BigInt(tag >>> 0);
  let ran = 0;
  for (;;) {
    const v = Atomics.load(next, NEXT);
    if (v >> 32n !== t) return ran;
    const u = Number(v & 0xffffffffn);
    if (u >= units) return ran;
    if (Atomics.compareExchange(next, NEXT, v, v + 1n) === v) {
      fn(u, args);
      ran++;
    }
  }
}

/** The pool; see the module notes. */
export class WorkerPool {
  readonly #bytes: Uint8Array<ArrayBuffer>;
  readonly #memory: WebAssembly.Memory;
  readonly #ctl: Int32Array;
  readonly #next: BigUint64Array;
  readonly #url: URL;
  #target: number;
  #canWait = true;
  /** Set once a worker failed to start; launches then stay on one thread. */
  broken = false;

  /**
   * @param bytes The kernel module's bytes (each worker instantiates it).
   * @param memory The shared memory.
   * @param workers How many workers to keep.
   * @param url The worker script (tests pass a missing one).
   */
  constructor(
    bytes: Uint8Array<ArrayBuffer>,
    memory: WebAssembly.Memory,
    workers: number,
    url: URL = new URL("./worker.ts", import.meta.url),
  ) {
    this.#url = url;
    this.#bytes = bytes;
    this.#memory = memory;
    this.#ctl = new Int32Array(memory.buffer, 0, 8);
    this.#next = new BigUint64Array(memory.buffer, 0, 8);
    this.#target = workers;
    try {
      Atomics.wait(this.#ctl, CTL.seq, Atomics.load(this.#ctl, CTL.seq) + 1, 0);
    } catch {
      this.#canWait = false; // a page's main thread: spin instead
    }
  }

  /** Workers started and listening, and units they have run in total. */
  stats(): { ready: number; workerUnits: number } {
    return {
      ready: Atomics.load(this.#ctl, CTL.ready),
      workerUnits: Atomics.load(this.#ctl, CTL.workerUnits),
    };
  }

  /** Starts missing workers now (launches also do). */
  warm(): void {
    this.#spawn();
  }

  /** Changes how many workers to keep (extra ones end when idle). */
  resize(workers: number): void {
    this.#target = workers;
  }

  #spawn(): void {
    const ctl = this.#ctl;
    while (!this.broken && Atomics.load(ctl, CTL.live) < this.#target) {
      let w: Worker;
      try {
        w = new Worker(this.#url, { type: "module" });
      } catch {
        this.broken = true;
        return;
      }
      Atomics.add(ctl, CTL.live, 1);
      w.onerror = (e) => {
        e.preventDefault();
        this.broken = true;
        Atomics.sub(ctl, CTL.live, 1);
      };
      w.postMessage({ bytes: this.#bytes, memory: this.#memory });
    }
  }

  /** Runs units [0, units) of kernel `id` on this thread and the workers. */
  run(
    id: number,
    units: number,
    args: number,
    fn: (unit: number, args: number) => void,
  ): void {
    const ctl = this.#ctl;
    this.#spawn();
    const seq = (Atomics.load(ctl, CTL.seq) + 1) | 0;
    Atomics.store(this.#next, NEXT, BigInt(seq >>> 0) << 32n);
    Atomics.store(ctl, CTL.kernel, id);
    Atomics.store(ctl, CTL.args, args);
    Atomics.store(ctl, CTL.units, units);
    Atomics.store(ctl, CTL.seq, seq);
    Atomics.notify(ctl, CTL.seq);
    claim(this.#next, seq, units, fn, args);
    for (;;) {
      const a = Atomics.load(ctl, CTL.active);
      if (a === 0) break;
      if (this.#canWait) Atomics.wait(ctl, CTL.active, a, 50);
    }
  }
}
