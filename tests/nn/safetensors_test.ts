import assert from "node:assert/strict";
import { decodeSafetensors, encodeSafetensors } from "../../nn/mod.ts";
import { loadSafetensors, saveSafetensors } from "../../train/files.ts";

const sample = {
  w: {
    dtype: "F32" as const,
    shape: [2, 3],
    data: Float32Array.from([1, 2, 3, 4, 5, 6.5]),
  },
  idx: {
    dtype: "I64" as const,
    shape: [3],
    data: Int32Array.from([7, -1, 2 ** 31 - 1]),
  },
  n: { dtype: "I32" as const, shape: [], data: Int32Array.from([42]) },
};

function withHeader(json: string, data = new Uint8Array(0)): Uint8Array {
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  out.set(data, 8 + head.length);
  return out;
}

Deno.test("safetensors round-trips F32, I64 and I32 with metadata", () => {
  const bytes = encodeSafetensors(sample, { epoch: "3" });
  const back = decodeSafetensors(bytes);
  assert.deepEqual(back.metadata, { epoch: "3" });
  assert.deepEqual(back.tensors.w, sample.w);
  assert.deepEqual(back.tensors.idx, sample.idx);
  assert.deepEqual(back.tensors.n, sample.n);
  // Data starts 8-byte aligned, as the format recommends.
  const hlen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal((8 + hlen) % 8, 0);
});

Deno.test("safetensors rejects malformed files naming the file and key", () => {
  const good = encodeSafetensors(sample);
  assert.throws(
    () => decodeSafetensors(good.subarray(0, 5), "a.st"),
    /a\.st: truncated: 5 bytes/,
  );
  assert.throws(
    () => decodeSafetensors(good.subarray(0, 20), "a.st"),
    /a\.st: truncated: header of \d+ bytes/,
  );
  assert.throws(
    () => decodeSafetensors(withHeader("{nope"), "b.st"),
    /b\.st: header is not valid JSON/,
  );
  assert.throws(
    () =>
      decodeSafetensors(
        withHeader(
          '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}',
          new Uint8Array(4),
        ),
        "c.st",
      ),
    /c\.st: key 'w': data_offsets \[0, 8\] lie outside the 4 data bytes/,
  );
  assert.throws(
    () =>
      decodeSafetensors(
        withHeader(
          '{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}',
          new Uint8Array(8),
        ),
        "d.st",
      ),
    /d\.st: key 'w': 8 bytes do not hold shape \[3\] of F32/,
  );
  assert.throws(
    () =>
      decodeSafetensors(
        withHeader(
          '{"w":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}',
          new Uint8Array(8),
        ),
        "e.st",
      ),
    /e\.st: key 'w': dtype F16 is not supported/,
  );
  assert.throws(
    () =>
      decodeSafetensors(
        withHeader('{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}'),
        "f.st",
      ),
    /f\.st: key 'w': shape \[-1\] is not a list/,
  );
});

Deno.test("saveSafetensors writes atomically and loadSafetensors names a missing path", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/m.safetensors`;
  await saveSafetensors(path, sample, { k: "v" });
  const back = await loadSafetensors(path);
  assert.deepEqual(back.tensors.w, sample.w);
  const left = [...Deno.readDirSync(dir)].map((e) => e.name);
  assert.deepEqual(left, ["m.safetensors"], "no temporary file left behind");
  await assert.rejects(
    () => loadSafetensors(`${dir}/missing.safetensors`),
    /file not found: .*missing\.safetensors/,
  );
  await Deno.writeFile(`${dir}/bad.safetensors`, new Uint8Array([1, 2, 3]));
  await assert.rejects(
    () => loadSafetensors(`${dir}/bad.safetensors`),
    /bad\.safetensors: truncated/,
  );
  await Deno.remove(dir, { recursive: true });
});
