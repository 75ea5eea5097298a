/**
 * The PyTorch peer: one bench/compare/torch_peer.py process under Debian's
 * /usr/bin/python3 (python3-torch) for the whole run, asked for one row at a
 * time over JSON lines so each row is timed right after our engine's (on a
 * shared machine the load drifts within minutes). Same plans, thread count
 * and training settings as ours. Skipped, with the reason, when `import
 * torch` fails. Debian's torch links libblas.so.3: `blasDir` puts a faster
 * one (an unpacked OpenBLAS) first on the library path.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import type { PeerInfo } from "./tfjs.ts";
import {
  type Outcome,
  type Plan,
  reason,
  type Spec,
  trainSettings,
} from "./workloads.ts";

const PYTHON = "/usr/bin/python3";
const SCRIPT = fileURLToPath(new URL("./torch_peer.py", import.meta.url));

/** A running torch_peer.py. */
export class TorchPeer {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    this.#reader = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
  }

  /** Starts the subprocess; `info` is its one-line description. */
  static async start(
    threads: number,
    blasDir?: string,
  ): Promise<{ peer: TorchPeer | null; info: PeerInfo }> {
    try {
      const probe = await new Deno.Command(PYTHON, {
        args: ["-c", "import torch"],
        stdout: "null",
        stderr: "piped",
      }).output();
      if (!probe.success) {
        const err = new TextDecoder().decode(probe.stderr).trim().split("\n")
          .pop();
        return {
          peer: null,
          info: { ok: false, note: `PyTorch: import torch failed (${err})` },
        };
      }
      const env: Record<string, string> = {
        OMP_NUM_THREADS: String(threads),
        OPENBLAS_NUM_THREADS: String(threads),
      };
      if (blasDir) {
        env.LD_LIBRARY_PATH = [blasDir, Deno.env.get("LD_LIBRARY_PATH")]
          .filter(Boolean).join(":");
      }
      const child = new Deno.Command(PYTHON, {
        args: [SCRIPT],
        stdin: "piped",
        stdout: "piped",
        stderr: "inherit",
        env,
      }).spawn();
      const peer = new TorchPeer(child);
      const hello = await peer.#ask({ threads, settings: trainSettings() });
      return { peer, info: { ok: true, note: String(hello.info) } };
    } catch (e) {
      return {
        peer: null,
        info: { ok: false, note: `PyTorch: cannot start (${reason(e)})` },
      };
    }
  }

  /** Sends one JSON line and reads the one-line answer. */
  async #ask(msg: unknown): Promise<Record<string, unknown>> {
    await this.#writer.write(
      new TextEncoder().encode(`${JSON.stringify(msg)}\n`),
    );
    while (!this.#buffer.includes("\n")) {
      const { value, done } = await this.#reader.read();
      if (done) throw new Error("torch_peer.py exited");
      this.#buffer += value;
    }
    const at = this.#buffer.indexOf("\n");
    const line = this.#buffer.slice(0, at);
    this.#buffer = this.#buffer.slice(at + 1);
    return JSON.parse(line);
  }

  /** Times one row. */
  async run(spec: Spec, plan: Plan): Promise<Outcome> {
    try {
      return await this.#ask({ spec, plan }) as Outcome;
    } catch (e) {
      return { skip: reason(e) };
    }
  }

  /** Ends the subprocess (closing its stdin ends its loop). */
  async close(): Promise<void> {
    await this.#writer.close().catch(() => {});
    this.#reader.releaseLock();
    await this.#child.stdout.cancel().catch(() => {});
    await this.#child.status;
  }
}
