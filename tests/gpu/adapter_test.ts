/**
 * Adapter classification on the info records real runtimes report: Deno's
 * wgpu on lavapipe, Chromium on SwiftShader and on hardware GPUs (empty
 * description and device), WARP, and the runtime's fallback flag.
 */

import assert from "node:assert/strict";
import { classifyAdapter } from "../../gpu/mod.ts";

Deno.test("classifyAdapter() calls Deno's lavapipe adapter software", () => {
  const c = classifyAdapter({
    vendor: "65541",
    architecture: "",
    device: "0",
    description: "llvmpipe (LLVM 15.0.6, 256 bits)",
  });
  assert.deepEqual(c, {
    name: "llvmpipe (LLVM 15.0.6, 256 bits)",
    software: true,
  });
});

Deno.test("classifyAdapter() calls Chromium's SwiftShader software by architecture", () => {
  const c = classifyAdapter({
    vendor: "google",
    architecture: "swiftshader",
    device: "",
    description: "",
    isFallbackAdapter: false,
  });
  assert.deepEqual(c, { name: "google swiftshader", software: true });
});

Deno.test("classifyAdapter() calls Chromium's hardware adapters hardware", () => {
  for (
    const [vendor, architecture] of [
      ["nvidia", "ampere"],
      ["intel", "gen-12lp"],
      ["apple", "metal-3"],
      ["amd", "rdna-3"],
    ]
  ) {
    const c = classifyAdapter({
      vendor,
      architecture,
      device: "",
      description: "",
      isFallbackAdapter: false,
    });
    assert.deepEqual(c, { name: `${vendor} ${architecture}`, software: false });
  }
});

Deno.test("classifyAdapter() trusts the runtime's fallback flag", () => {
  const c = classifyAdapter({ vendor: "acme", isFallbackAdapter: true });
  assert.deepEqual(c, { name: "acme", software: true });
});

Deno.test("classifyAdapter() recognises WARP and a bare hardware description", () => {
  assert.equal(
    classifyAdapter({ description: "Microsoft Basic Render Driver" }).software,
    true,
  );
  assert.equal(
    classifyAdapter({ vendor: "microsoft", architecture: "warp" }).software,
    true,
  );
  const hw = classifyAdapter({
    vendor: "4318",
    description: "NVIDIA GeForce RTX 4090",
  });
  assert.deepEqual(hw, { name: "NVIDIA GeForce RTX 4090", software: false });
});

Deno.test("classifyAdapter() names an adapter that reports nothing", () => {
  assert.deepEqual(classifyAdapter({}), {
    name: "unknown adapter",
    software: false,
  });
});
