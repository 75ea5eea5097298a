/**
 * The safetensors format in memory: an 8-byte little-endian header length, a
 * JSON header mapping names to dtype, shape and byte offsets, then the data.
 * F32 and I32 are read and written; I64 is read (as int32, checked to fit)
 * and written from int32. Every malformed input gives an error naming the
 * source and, where it applies, the key.
 *
 * @module
 */

/** One host-side tensor in a safetensors file. */
export interface HostTensor {
  /** Element type. */
  dtype: "F32" | "I32" | "I64";
  /** Shape. */
  shape: number[];
  /** Values (I64 values are held as int32). */
  data: Float32Array | Int32Array;
}

const SIZES: Record<string, number> = {
  F32: 4,
  I32: 4,
  I64: 8,
  F64: 8,
  F16: 2,
  BF16: 2,
  U8: 1,
  I8: 1,
  I16: 2,
  BOOL: 1,
};

/**
 * Encodes tensors (and string metadata) as a safetensors file.
 * @example
 * ```ts
 * import { decodeSafetensors, encodeSafetensors } from "@cnnf/webgpu/nn";
 * import assert from "node:assert/strict";
 * const bytes = encodeSafetensors({
 *   w: { dtype: "F32", shape: [2], data: Float32Array.of(1, 2) },
 * }, { note: "hi" });
 * const { tensors, metadata } = decodeSafetensors(bytes);
 * assert.deepEqual([...tensors.w.data], [1, 2]);
 * assert.equal(metadata.note, "hi");
 * ```
 */
export function encodeSafetensors(
  tensors: Record<string, HostTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  const names = Object.keys(tensors).sort();
  for (const name of names) {
    const t = tensors[name];
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) {
      throw new Error(
        `safetensors: '${name}' has ${t.data.length} values for shape [${
          t.shape.join(", ")
        }]`,
      );
    }
    const bytes = n * SIZES[t.dtype];
    header[name] = {
      dtype: t.dtype,
      shape: t.shape,
      data_offsets: [offset, offset + bytes],
    };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned.
  while ((8 + json.length) % 8) json += " ";
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let pos = 8 + head.length;
  for (const name of names) {
    const t = tensors[name];
    if (t.dtype === "I64") {
      for (let i = 0; i < t.data.length; i++) {
        view.setBigInt64(pos + 8 * i, BigInt(t.data[i]), true);
      }
      pos += 8 * t.data.length;
    } else {
      for (let i = 0; i < t.data.length; i++) {
        if (t.dtype === "F32") view.setFloat32(pos + 4 * i, t.data[i], true);
        else view.setInt32(pos + 4 * i, t.data[i], true);
      }
      pos += 4 * t.data.length;
    }
  }
  return out;
}

/** A decoded file: tensors and metadata. */
export interface DecodedSafetensors {
  /** Tensors by name. */
  tensors: Record<string, HostTensor>;
  /** The `__metadata__` strings. */
  metadata: Record<string, string>;
}

/**
 * Decodes a safetensors file, validating the header.
 * @param bytes File contents.
 * @param source Name for error messages (the file path).
 * @example
 * ```ts
 * import { decodeSafetensors } from "@cnnf/webgpu/nn";
 * import assert from "node:assert/strict";
 * assert.throws(() => decodeSafetensors(new Uint8Array(3), "bad.safetensors"), /bad\.safetensors/);
 * ```
 */
export function decodeSafetensors(
  bytes: Uint8Array,
  source = "safetensors",
): DecodedSafetensors {
  const fail = (msg: string): never => {
    throw new Error(`${source}: ${msg}`);
  };
  if (bytes.length < 8) {
    fail(`truncated: ${bytes.length} bytes, no header length`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = Number(view.getBigUint64(0, true));
  if (hlen > bytes.length - 8) {
    fail(
      `truncated: header of ${hlen} bytes but file has ${
        bytes.length - 8
      } after the length`,
    );
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(
        bytes.subarray(8, 8 + hlen),
      ),
    );
  } catch (e) {
    return fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (!header || typeof header !== "object" || Array.isArray(header)) {
    fail("header is not a JSON object");
  }
  const dataStart = 8 + hlen;
  const dataLen = bytes.length - dataStart;
  const tensors: Record<string, HostTensor> = {};
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = raw as Record<string, string>;
      continue;
    }
    const e = raw as {
      dtype?: unknown;
      shape?: unknown;
      data_offsets?: unknown;
    };
    const where = `key '${name}'`;
    if (!e || typeof e !== "object") fail(`${where}: entry is not an object`);
    const dtype = e.dtype as string;
    if (!(dtype in SIZES)) {
      fail(`${where}: unknown dtype ${JSON.stringify(e.dtype)}`);
    }
    if (dtype !== "F32" && dtype !== "I32" && dtype !== "I64") {
      fail(`${where}: dtype ${dtype} is not supported (F32, I32, I64)`);
    }
    const shape = e.shape;
    if (
      !Array.isArray(shape) ||
      !shape.every((d) => Number.isInteger(d) && d >= 0)
    ) {
      fail(
        `${where}: shape ${
          JSON.stringify(shape)
        } is not a list of non-negative integers`,
      );
    }
    const offs = e.data_offsets;
    if (
      !Array.isArray(offs) || offs.length !== 2 || !offs.every((d) =>
        Number.isInteger(d) && d >= 0
      ) || offs[1] < offs[0]
    ) {
      fail(`${where}: data_offsets ${JSON.stringify(offs)} are invalid`);
    }
    const [b, end] = offs as number[];
    if (end > dataLen) {
      fail(
        `${where}: data_offsets [${b}, ${end}] lie outside the ${dataLen} data bytes`,
      );
    }
    const n = (shape as number[]).reduce((a, c) => a * c, 1);
    if (end - b !== n * SIZES[dtype]) {
      fail(
        `${where}: ${end - b} bytes do not hold shape [${
          (shape as number[]).join(", ")
        }] of ${dtype}`,
      );
    }
    const pos = dataStart + b;
    let data: Float32Array | Int32Array;
    if (dtype === "F32") {
      data = new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = view.getFloat32(pos + 4 * i, true);
    } else if (dtype === "I32") {
      data = new Int32Array(n);
      for (let i = 0; i < n; i++) data[i] = view.getInt32(pos + 4 * i, true);
    } else {
      data = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = view.getBigInt64(pos + 8 * i, true);
        if (v > 2147483647n || v < -2147483648n) {
          fail(`${where}: int64 value ${v} does not fit in int32`);
        }
        data[i] = Number(v);
      }
    }
    tensors[name] = {
      dtype: dtype as HostTensor["dtype"],
      shape: shape as number[],
      data,
    };
  }
  return { tensors, metadata };
}
