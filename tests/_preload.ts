/**
 * Loaded before every test module (`deno task test` passes `--preload`):
 * gives the process a private XDG runtime folder when it has none, so the
 * Vulkan loader does not print a warning for each WebGPU adapter request
 * (doc tests included).
 */

import { ensureRuntimeDir } from "../train/runtime_dir.ts";

ensureRuntimeDir();
