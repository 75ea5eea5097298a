/**
 * The part of the `Deno` namespace the engine's tests touch, for the
 * browser test page: `Deno.test` collects the tests (all three call forms)
 * instead of running them, and `Deno.env.get` reads a fixed map. Imported
 * before any test module, so registrations land in `collected`.
 */

/** A test as `Deno.test` registered it. */
export interface CollectedTest {
  /** The test's name. */
  name: string;
  /** Its body. */
  fn: () => unknown;
  /** Whether it was registered with `ignore: true`. */
  ignore: boolean;
}

/** Every test registered so far, in order. */
export const collected: CollectedTest[] = [];

type Def = { name: string; fn: () => unknown; ignore?: boolean };

function test(
  a: string | Def,
  b?: Partial<Def> | (() => unknown),
  c?: () => unknown,
): void {
  const def: Def = typeof a === "string"
    ? typeof b === "function" ? { name: a, fn: b } : { ...b, name: a, fn: c! }
    : a;
  collected.push({ name: def.name, fn: def.fn, ignore: Boolean(def.ignore) });
}

const env = new Map<string, string>([["REQUIRE_WEBGPU", "1"]]);

Object.defineProperty(globalThis, "Deno", {
  value: { test, env: { get: (k: string) => env.get(k) } },
  configurable: true,
});
