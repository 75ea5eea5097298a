/**
 * The subset of `node:assert/strict` the engine's tests use, for the browser
 * test page (esbuild aliases `node:assert/strict` to this file). Same
 * semantics as Node's strict mode: `equal` is `Object.is`, `deepEqual`
 * compares structure with `Object.is` on primitives (so `NaN` equals `NaN`
 * and `-0` differs from `0`), typed arrays by type and elements.
 */

/** Raised when an assertion fails, as Node's `AssertionError`. */
export class AssertionError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "AssertionError";
  }
}

function show(v: unknown): string {
  if (typeof v === "number") return Object.is(v, -0) ? "-0" : String(v);
  if (ArrayBuffer.isView(v)) {
    return `${v.constructor.name}[${
      [...(v as unknown as ArrayLike<number>) as number[]].map(show).join(", ")
    }]`;
  }
  if (Array.isArray(v)) return `[${v.map(show).join(", ")}]`;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

function fail(message: string | Error | undefined, fallback: string): never {
  if (message instanceof Error) throw message;
  throw new AssertionError(message ?? fallback);
}

function same(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || !a || !b) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (ArrayBuffer.isView(a)) {
    const x = a as unknown as ArrayLike<unknown>;
    const y = b as unknown as ArrayLike<unknown>;
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
    return true;
  }
  if (a instanceof Map || a instanceof Set) {
    return same([...a], [...(b as Map<unknown, unknown>)]);
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) =>
    Object.prototype.hasOwnProperty.call(b, k) &&
    same(
      (a as Record<string, unknown>)[k],
      (b as Record<string, unknown>)[k],
    )
  );
}

function ok(value: unknown, message?: string | Error): asserts value {
  if (!value) fail(message, `expected a truthy value, got ${show(value)}`);
}

function equal(actual: unknown, expected: unknown, message?: string): void {
  if (!Object.is(actual, expected)) {
    fail(message, `${show(actual)} !== ${show(expected)}`);
  }
}

function notEqual(actual: unknown, expected: unknown, message?: string): void {
  if (Object.is(actual, expected)) fail(message, `both are ${show(actual)}`);
}

function deepEqual(actual: unknown, expected: unknown, message?: string) {
  if (!same(actual, expected)) {
    fail(
      message,
      `not deep-equal:\n  actual   ${show(actual)}\n  expected ${
        show(expected)
      }`,
    );
  }
}

function notDeepEqual(actual: unknown, expected: unknown, message?: string) {
  if (same(actual, expected)) fail(message, `deep-equal: ${show(actual)}`);
}

function match(s: string, re: RegExp, message?: string): void {
  if (!re.test(s)) fail(message, `${show(s)} does not match ${re}`);
}

function doesNotMatch(s: string, re: RegExp, message?: string): void {
  if (re.test(s)) fail(message, `${show(s)} matches ${re}`);
}

type Expected =
  | RegExp
  | (new (...args: never[]) => unknown)
  | ((e: unknown) => boolean);

function check(e: unknown, expected: Expected | undefined): void {
  if (expected === undefined) return;
  if (expected instanceof RegExp) {
    if (!expected.test(String(e))) {
      throw new AssertionError(`${String(e)} does not match ${expected}`);
    }
    return;
  }
  if (expected.prototype !== undefined && e instanceof expected) return;
  if (expected.prototype instanceof Error || expected === Error) {
    throw new AssertionError(`${String(e)} is not a ${expected.name}`);
  }
  if ((expected as (e: unknown) => boolean)(e) !== true) {
    throw new AssertionError(`the validator rejected ${String(e)}`);
  }
}

function throws(fn: () => unknown, expected?: Expected, message?: string) {
  try {
    fn();
  } catch (e) {
    check(e, expected);
    return;
  }
  fail(message, "missing expected exception");
}

async function rejects(
  fn: Promise<unknown> | (() => Promise<unknown>),
  expected?: Expected,
  message?: string,
): Promise<void> {
  try {
    await (typeof fn === "function" ? fn() : fn);
  } catch (e) {
    check(e, expected);
    return;
  }
  fail(message, "missing expected rejection");
}

const assert = Object.assign(
  (value: unknown, message?: string | Error) => ok(value, message),
  {
    AssertionError,
    ok,
    equal,
    strictEqual: equal,
    notEqual,
    notStrictEqual: notEqual,
    deepEqual,
    deepStrictEqual: deepEqual,
    notDeepEqual,
    notDeepStrictEqual: notDeepEqual,
    match,
    doesNotMatch,
    throws,
    rejects,
  },
);

export default assert;
export {
  deepEqual,
  deepEqual as deepStrictEqual,
  doesNotMatch,
  equal,
  equal as strictEqual,
  match,
  notDeepEqual,
  notEqual,
  ok,
  rejects,
  throws,
};
