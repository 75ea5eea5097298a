/**
 * A minimal PNG encoder (8-bit grayscale or RGB, zlib via the standard
 * CompressionStream) for the report's example images.
 *
 * @module
 */

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

async function zlib(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as BlobPart]).stream().pipeThrough(
    new CompressionStream("deflate"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/**
 * Encodes pixels (row-major, 1 or 3 channels interleaved, 0..255) as PNG.
 * @param pixels Pixel bytes, width*height*channels.
 * @example
 * ```ts
 * import { encodePng } from "./png.ts";
 * import assert from "node:assert/strict";
 * const png = await encodePng(new Uint8Array([0, 255, 255, 0]), 2, 2, 1);
 * assert.deepEqual([...png.subarray(1, 4)], [80, 78, 71]); // "PNG"
 * await assert.rejects(
 *   () => encodePng(new Uint8Array(3), 2, 2, 1),
 *   /encodePng: 3 bytes for 2x2x1/,
 * );
 * ```
 */
export async function encodePng(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: 1 | 3,
): Promise<Uint8Array> {
  if (pixels.length !== width * height * channels) {
    throw new Error(
      `encodePng: ${pixels.length} bytes for ${width}x${height}x${channels}`,
    );
  }
  const raw = new Uint8Array(height * (1 + width * channels));
  for (let y = 0; y < height; y++) {
    raw.set(
      pixels.subarray(y * width * channels, (y + 1) * width * channels),
      y * (1 + width * channels) + 1,
    );
  }
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr[8] = 8;
  ihdr[9] = channels === 1 ? 0 : 2;
  const parts = [
    new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk("IHDR", ihdr),
    chunk("IDAT", await zlib(raw)),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Base64 of bytes. */
export function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/**
 * A PNG data URL of one CHW image with values in [-1, 1].
 * @param chw Values [C*H*W].
 * @example
 * ```ts
 * import { imageDataUrl } from "./png.ts";
 * import assert from "node:assert/strict";
 * const url = await imageDataUrl([-1, 1, 0, 0.5], 1, 2, 2);
 * assert.match(url, /^data:image\/png;base64,iVBORw0KGgo/);
 * ```
 */
export async function imageDataUrl(
  chw: ArrayLike<number>,
  c: number,
  h: number,
  w: number,
): Promise<string> {
  const px = new Uint8Array(h * w * (c === 1 ? 1 : 3));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let k = 0; k < (c === 1 ? 1 : 3); k++) {
        const v = chw[k * h * w + y * w + x];
        px[(y * w + x) * (c === 1 ? 1 : 3) + k] = Math.max(
          0,
          Math.min(255, Math.round((v + 1) * 127.5)),
        );
      }
    }
  }
  return `data:image/png;base64,${
    base64(await encodePng(px, w, h, c === 1 ? 1 : 3))
  }`;
}
