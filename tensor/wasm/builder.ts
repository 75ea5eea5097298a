/**
 * A small WebAssembly module builder: enough of the binary format to emit
 * the CPU backend's kernels as bytes at run time (function types, one
 * imported memory, functions with locals, exports) plus an instruction
 * writer covering the integer, f32 and 128-bit SIMD opcodes they use.
 * No toolchain and no `.wasm` file: the kernels are TypeScript that writes
 * bytecode.
 *
 * @module
 */

/** Value types. */
export const I32 = 0x7f;
/** 32-bit float. */
export const F32 = 0x7d;
/** 128-bit vector. */
export const V128 = 0x7b;
/** A value type byte. */
export type ValType = typeof I32 | typeof F32 | typeof V128;

/** Unsigned LEB128. */
function uleb(n: number, out: number[]): void {
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
}

/** Signed LEB128 of a 32-bit integer. */
function sleb(n: number, out: number[]): void {
  n |= 0;
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return;
    }
    out.push(b | 0x80);
  }
}

/** A length-prefixed byte vector. */
function sized(bytes: number[]): number[] {
  const out: number[] = [];
  uleb(bytes.length, out);
  return out.concat(bytes);
}

const SIMD = 0xfd;

/**
 * Instruction writer for one function body. Locals are numbered after the
 * parameters; `local(type)` declares a fresh one. Methods append opcodes and
 * return `this`, so code reads as stack-machine assembly.
 */
export class Code {
  /** The bytes written so far. */
  readonly bytes: number[] = [];
  readonly #locals: ValType[] = [];
  readonly #params: number;

  /** @param params Number of parameters (they take the first local slots). */
  constructor(params: number) {
    this.#params = params;
  }

  /** Declares a new local of `type` and returns its index. */
  local(type: ValType): number {
    this.#locals.push(type);
    return this.#params + this.#locals.length - 1;
  }

  /** Raw opcode bytes. */
  op(...b: number[]): this {
    this.bytes.push(...b);
    return this;
  }

  #simd(code: number): this {
    this.bytes.push(SIMD);
    uleb(code, this.bytes);
    return this;
  }

  #memarg(align: number, offset: number): void {
    this.bytes.push(align);
    uleb(offset, this.bytes);
  }

  /** local.get */
  get(i: number): this {
    this.bytes.push(0x20);
    uleb(i, this.bytes);
    return this;
  }
  /** local.set */
  set(i: number): this {
    this.bytes.push(0x21);
    uleb(i, this.bytes);
    return this;
  }
  /** local.tee */
  tee(i: number): this {
    this.bytes.push(0x22);
    uleb(i, this.bytes);
    return this;
  }
  /** i32.const */
  i32(v: number): this {
    this.bytes.push(0x41);
    sleb(v, this.bytes);
    return this;
  }
  /** f32.const */
  f32(v: number): this {
    this.bytes.push(0x43, ...new Uint8Array(new Float32Array([v]).buffer));
    return this;
  }
  /** i32.load at byte offset `off`. */
  loadI32(off = 0): this {
    this.bytes.push(0x28);
    this.#memarg(2, off);
    return this;
  }
  /** f32.load */
  loadF32(off = 0): this {
    this.bytes.push(0x2a);
    this.#memarg(2, off);
    return this;
  }
  /** f32.store */
  storeF32(off = 0): this {
    this.bytes.push(0x38);
    this.#memarg(2, off);
    return this;
  }
  /** v128.load */
  load(off = 0): this {
    this.#simd(0x00);
    this.#memarg(4, off);
    return this;
  }
  /** v128.load32_splat */
  loadSplat(off = 0): this {
    this.#simd(0x09);
    this.#memarg(2, off);
    return this;
  }
  /** v128.store */
  store(off = 0): this {
    this.#simd(0x0b);
    this.#memarg(4, off);
    return this;
  }
  /** v128.store64_lane: stores 64-bit lane `lane` of the vector. */
  storeLane64(lane: number, off = 0): this {
    this.#simd(0x5b);
    this.#memarg(3, off);
    this.bytes.push(lane);
    return this;
  }
  /**
   * i8x16.shuffle picking 32-bit lanes: `lanes[i]` in 0..3 takes lane i of
   * the first vector, 4..7 of the second.
   */
  shuffle32(lanes: readonly number[]): this {
    this.#simd(0x0d);
    for (const l of lanes) {
      this.bytes.push(l * 4, l * 4 + 1, l * 4 + 2, l * 4 + 3);
    }
    return this;
  }
  /** f32x4.splat */
  splat(): this {
    return this.#simd(0x13);
  }
  /** v128 of four copies of `v`. */
  vconst(v: number): this {
    return this.f32(v).splat();
  }
  /** f32x4.add */
  vadd(): this {
    return this.#simd(0xe4);
  }
  /** f32x4.sub */
  vsub(): this {
    return this.#simd(0xe5);
  }
  /** f32x4.mul */
  vmul(): this {
    return this.#simd(0xe6);
  }
  /** f32x4.max */
  vmax(): this {
    return this.#simd(0xe9);
  }
  /** f32x4.neg */
  vneg(): this {
    return this.#simd(0xe1);
  }
  /** f32x4.gt: lane masks of a > b (false where either is NaN). */
  vgt(): this {
    return this.#simd(0x44);
  }
  /** v128.bitselect(a, b, mask): bits of a where the mask is set, else b. */
  bitselect(): this {
    return this.#simd(0x52);
  }
  /** v128.const of four i32 lanes. */
  iconst4(lanes: readonly [number, number, number, number]): this {
    this.#simd(0x0c);
    this.bytes.push(...new Uint8Array(Int32Array.from(lanes).buffer));
    return this;
  }
  /** i32x4.splat */
  isplat(): this {
    return this.#simd(0x11);
  }
  /** i32x4.add */
  iadd4(): this {
    return this.#simd(0xae);
  }
  /** f32x4.relaxed_madd: a * b + c (fused where the hardware has FMA). */
  vmadd(): this {
    return this.#simd(0x105);
  }
  /** i32.add */
  add(): this {
    return this.op(0x6a);
  }
  /** i32.sub */
  sub(): this {
    return this.op(0x6b);
  }
  /** i32.mul */
  mul(): this {
    return this.op(0x6c);
  }
  /** i32.div_u */
  divu(): this {
    return this.op(0x6e);
  }
  /** i32.rem_u */
  remu(): this {
    return this.op(0x70);
  }
  /** select: pushes a when cond else b (stack: a b cond). */
  select(): this {
    return this.op(0x1b);
  }
  /** i32.and */
  and(): this {
    return this.op(0x71);
  }
  /** i32.or */
  or(): this {
    return this.op(0x72);
  }
  /** i32.ge_u */
  geu(): this {
    return this.op(0x4f);
  }
  /** i32.eq */
  eq(): this {
    return this.op(0x46);
  }
  /** memory.copy (stack: dst src bytes). */
  memcopy(): this {
    return this.op(0xfc, 0x0a, 0x00, 0x00);
  }
  /** memory.fill (stack: dst byte bytes). */
  memfill(): this {
    return this.op(0xfc, 0x0b, 0x00);
  }
  /** i32.shl */
  shl(): this {
    return this.op(0x74);
  }
  /** i32.lt_s */
  lt(): this {
    return this.op(0x48);
  }
  /** i32.le_s */
  le(): this {
    return this.op(0x4c);
  }
  /** i32.eqz */
  eqz(): this {
    return this.op(0x45);
  }
  /** f32.add */
  fadd(): this {
    return this.op(0x92);
  }
  /** f32.mul */
  fmul(): this {
    return this.op(0x94);
  }
  /** f32.max */
  fmax(): this {
    return this.op(0x97);
  }
  /** local[i] += v (i32). */
  inc(i: number, v: number): this {
    return this.get(i).i32(v).add().set(i);
  }
  /** local[i] += local[j] (i32). */
  incBy(i: number, j: number): this {
    return this.get(i).get(j).add().set(i);
  }

  /** `if (cond) { then } else { otherwise }` with cond already pushed. */
  ifElse(then: () => void, otherwise?: () => void): this {
    this.op(0x04, 0x40);
    then();
    if (otherwise) {
      this.op(0x05);
      otherwise();
    }
    return this.op(0x0b);
  }

  /**
   * `for (local = from; local < limit; local += step) body` with i32
   * locals; `from` and `limit` are emitted by callbacks. The body runs at
   * least zero times (the test comes first); with step 0 the body
   * advances the local itself.
   */
  loop(
    i: number,
    from: () => void,
    limit: () => void,
    step: number,
    body: () => void,
  ): this {
    from();
    this.set(i);
    this.op(0x02, 0x40); // block
    this.get(i);
    limit();
    this.op(0x4e, 0x0d, 0); // i32.ge_s; br_if 0 (exit)
    this.op(0x03, 0x40); // loop
    body();
    if (step !== 0) this.inc(i, step);
    this.get(i);
    limit();
    this.op(0x48, 0x0d, 0); // i32.lt_s; br_if 0 (continue)
    this.op(0x0b, 0x0b); // end loop; end block
    return this;
  }

  /** The encoded body: local declarations, code, `end`. */
  encode(): number[] {
    const out: number[] = [];
    const groups: [number, ValType][] = [];
    for (const t of this.#locals) {
      const last = groups[groups.length - 1];
      if (last && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    uleb(groups.length, out);
    for (const [n, t] of groups) {
      uleb(n, out);
      out.push(t);
    }
    return sized(out.concat(this.bytes, [0x0b]));
  }
}

/** A function to emit: signature, body, export name. */
export interface FuncDef {
  /** Export name. */
  name: string;
  /** Parameter types. */
  params: ValType[];
  /** Result types. */
  results: ValType[];
  /** The body. */
  code: Code;
}

/**
 * Encodes a module importing memory `env.mem` (shared when `shared`, with
 * `maxPages` as its limit) and exporting `funcs`.
 */
export function buildModule(
  funcs: FuncDef[],
  shared: boolean,
  maxPages: number,
): Uint8Array<ArrayBuffer> {
  const section = (id: number, body: number[]) => [id, ...sized(body)];
  const vec = (items: number[][]) => {
    const out: number[] = [];
    uleb(items.length, out);
    return out.concat(...items);
  };
  const str = (s: string) => sized([...new TextEncoder().encode(s)]);
  const types = vec(funcs.map((f) => [
    0x60,
    ...sized(f.params),
    ...sized(f.results),
  ]));
  // sized() of a type list writes its count as the prefix, as wanted.
  const limits: number[] = [shared ? 0x03 : 0x01];
  uleb(1, limits);
  uleb(maxPages, limits);
  const imports = vec([[...str("env"), ...str("mem"), 0x02, ...limits]]);
  const fnIdx = vec(funcs.map((_, i) => {
    const o: number[] = [];
    uleb(i, o);
    return o;
  }));
  const exports = vec(funcs.map((f, i) => {
    const o = [...str(f.name), 0x00];
    uleb(i, o);
    return o;
  }));
  const code = vec(funcs.map((f) => f.code.encode()));
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, types),
    ...section(2, imports),
    ...section(3, fnIdx),
    ...section(7, exports),
    ...section(10, code),
  ]);
}
