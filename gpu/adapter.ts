/**
 * Adapter classification: is a WebGPU adapter a hardware GPU or a software
 * rasteriser, and what should it be called? Runtimes disagree on what they
 * report: Deno's wgpu fills `description` ("llvmpipe (LLVM 15.0.6, 256
 * bits)"), while Chromium leaves `description` and `device` empty and gives
 * only `vendor` and `architecture` ("google", "swiftshader"), plus an
 * `isFallbackAdapter` flag on the adapter (older) or its info (newer). The
 * classifier reads all of them, so `auto` picks WebGPU on a browser's
 * hardware adapter and the CPU backend on SwiftShader, llvmpipe or WARP.
 *
 * @module
 */

/** The adapter facts the classifier reads (all optional, as in browsers). */
export interface AdapterInfoRecord {
  /** Vendor, e.g. "nvidia", "google", or a PCI id such as "65541". */
  vendor?: string;
  /** Architecture, e.g. "ampere", "swiftshader". */
  architecture?: string;
  /** Device name; empty in Chromium. */
  device?: string;
  /** Free-form description; empty in Chromium. */
  description?: string;
  /** The runtime's own software-adapter flag, where it reports one. */
  isFallbackAdapter?: boolean;
}

/** What the classifier concludes about an adapter. */
export interface AdapterClass {
  /** Human-readable name: description, device, or vendor and architecture. */
  name: string;
  /** True for a software adapter (slower than the CPU backend). */
  software: boolean;
}

// Software rasterisers by the names their runtimes report: Google's
// SwiftShader (Chromium), Mesa's llvmpipe/lavapipe/softpipe, Microsoft WARP
// ("Microsoft Basic Render Driver").
const SOFTWARE =
  /swiftshader|llvmpipe|lavapipe|softpipe|\bwarp\b|basic render|software/i;

/**
 * Classifies an adapter from its info record.
 *
 * @example Chromium's SwiftShader adapter is software
 * ```ts
 * import { classifyAdapter } from "@cnnf/webgpu/gpu";
 * const c = classifyAdapter({ vendor: "google", architecture: "swiftshader" });
 * console.log(c.software, c.name); // true "google swiftshader"
 * ```
 * @param info Fields of `GPUAdapterInfo` plus the fallback flag.
 * @returns The adapter's display name and whether it is software.
 */
export function classifyAdapter(info: AdapterInfoRecord): AdapterClass {
  const fields = [info.vendor, info.architecture, info.device, info.description]
    .map((s) => (s ?? "").trim());
  const [vendor, architecture, device, description] = fields;
  const name = description || device ||
    [vendor, architecture].filter((s) => s).join(" ") || "unknown adapter";
  const software = info.isFallbackAdapter === true ||
    fields.some((s) => SOFTWARE.test(s));
  return { name, software };
}
