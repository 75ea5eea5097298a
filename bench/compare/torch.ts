/**
 * Runs the PyTorch peer: bench/compare/torch_peer.py under Debian's
 * /usr/bin/python3 (python3-torch) with the same rows, plans, thread count
 * and training settings, and reads its JSON answer. Skipped, with the
 * reason, when `import torch` fails there. Debian's torch links
 * libblas.so.3: `--torch-blas DIR` puts a faster one (OpenBLAS) first.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import type { PeerInfo } from "./tfjs.ts";
import {
  type Outcome,
  type Plan,
  reason,
  type Row,
  trainSettings,
} from "./workloads.ts";

const PYTHON = "/usr/bin/python3";
const SCRIPT = fileURLToPath(new URL("./torch_peer.py", import.meta.url));

/** Whether PyTorch imports under /usr/bin/python3 (and why not). */
export async function probeTorch(): Promise<PeerInfo> {
  try {
    const r = await new Deno.Command(PYTHON, {
      args: ["-c", "import torch; print(torch.__version__)"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!r.success) {
      const err = new TextDecoder().decode(r.stderr).trim().split("\n").pop();
      return { ok: false, note: `PyTorch: import torch failed (${err})` };
    }
    return { ok: true, note: "PyTorch" };
  } catch (e) {
    return {
      ok: false,
      note: `PyTorch: ${PYTHON} not runnable (${reason(e)})`,
    };
  }
}

/** Runs every row in one PyTorch subprocess; returns its note and results. */
export async function runTorch(
  rows: Row[],
  planFor: (r: Row) => Plan,
  threads: number,
  blasDir?: string,
): Promise<{ note: string; results: Map<string, Outcome> }> {
  const arg = JSON.stringify({
    threads,
    rows: rows.map((r) => ({ id: r.id, spec: r.spec })),
    plans: rows.map(planFor),
    settings: trainSettings(),
  });
  const r = await new Deno.Command(PYTHON, {
    args: [SCRIPT, arg],
    stdout: "piped",
    stderr: "inherit",
    env: {
      OMP_NUM_THREADS: String(threads),
      OPENBLAS_NUM_THREADS: String(threads),
      // A BLAS folder put first, e.g. an unpacked libopenblas0-pthread.
      ...(blasDir
        ? {
          LD_LIBRARY_PATH: [blasDir, Deno.env.get("LD_LIBRARY_PATH")]
            .filter(Boolean).join(":"),
        }
        : {}),
    },
  }).output();
  const results = new Map<string, Outcome>();
  if (!r.success) {
    for (const row of rows) {
      results.set(row.id, { skip: `torch_peer.py exited with ${r.code}` });
    }
    return { note: "PyTorch: the subprocess failed", results };
  }
  const answer = JSON.parse(new TextDecoder().decode(r.stdout)) as {
    info: string;
    results: Record<string, Outcome>;
  };
  for (const row of rows) {
    results.set(row.id, answer.results[row.id] ?? { skip: "missing" });
  }
  return { note: answer.info, results };
}
