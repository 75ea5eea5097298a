/**
 * A private XDG runtime folder for processes started without one (ssh
 * sessions, containers, cron). Vulkan's loader and Mesa read
 * `XDG_RUNTIME_DIR` when a WebGPU adapter is requested and print
 * `error: XDG_RUNTIME_DIR is invalid or not set in the environment.` for
 * each probe when it is missing; nothing is wrong, but it alarms. Setting a
 * valid folder before the first `navigator.gpu` call silences it.
 *
 * @module
 */

/**
 * Points `XDG_RUNTIME_DIR` at a folder private to this user (mode 0700 under
 * the temporary folder) unless it names a usable folder already. Returns
 * the folder set, or null when the environment was fine.
 * @example
 * ```ts
 * // Internal to the CLI (not exported), hence the relative import.
 * import { ensureRuntimeDir } from "./runtime_dir.ts";
 * import assert from "node:assert/strict";
 * ensureRuntimeDir();
 * assert.ok(Deno.statSync(Deno.env.get("XDG_RUNTIME_DIR")!).isDirectory);
 * assert.equal(ensureRuntimeDir(), null); // usable now: left alone
 * ```
 */
export function ensureRuntimeDir(): string | null {
  // A stand-in `Deno` (the browser test page's shim) has no process to fix.
  if (typeof Deno.uid !== "function") return null;
  const now = Deno.env.get("XDG_RUNTIME_DIR");
  if (now) {
    try {
      if (Deno.statSync(now).isDirectory) return null;
    } catch { /* missing: replace it */ }
  }
  const tmp = Deno.env.get("TMPDIR") || "/tmp";
  // One folder per user, reused: nothing to clean up after a kill.
  const dir = `${tmp}/cnnf-runtime-${Deno.uid() ?? "user"}`;
  try {
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    Deno.chmodSync(dir, 0o700);
  } catch {
    return null;
  }
  Deno.env.set("XDG_RUNTIME_DIR", dir);
  return dir;
}
