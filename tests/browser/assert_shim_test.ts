/**
 * The browser `node:assert` stand-in must fail exactly where Node's strict
 * assert fails, or the browser run could pass vacuously: each case runs
 * through both and the outcomes (throws or not) must agree.
 */

import nodeAssert from "node:assert/strict";
import shim from "./assert_shim.ts";

type Case = [string, (a: typeof shim) => unknown];

const CASES: Case[] = [
  ["equal same", (a) => a.equal(1, 1)],
  ["equal differs", (a) => a.equal(1, 2)],
  ["equal NaN", (a) => a.equal(NaN, NaN)],
  ["equal -0 vs 0", (a) => a.equal(-0, 0)],
  ["equal string vs number", (a) => a.equal("1" as unknown, 1)],
  ["ok true", (a) => a.ok(1)],
  ["ok false", (a) => a.ok(0)],
  ["deepEqual arrays", (a) => a.deepEqual([1, [2, 3]], [1, [2, 3]])],
  ["deepEqual arrays differ", (a) => a.deepEqual([1, 2], [1, 3])],
  ["deepEqual lengths differ", (a) => a.deepEqual([1, 2], [1, 2, 3])],
  ["deepEqual NaN", (a) => a.deepEqual([NaN], [NaN])],
  ["deepEqual -0", (a) => a.deepEqual([-0], [0])],
  ["deepEqual objects", (a) => a.deepEqual({ x: 1, y: [2] }, { y: [2], x: 1 })],
  ["deepEqual extra key", (a) => a.deepEqual({ x: 1 }, { x: 1, y: 2 })],
  [
    "deepEqual typed arrays",
    (a) => a.deepEqual(new Float32Array([1, 2]), new Float32Array([1, 2])),
  ],
  [
    "deepEqual typed array kinds",
    (a) => a.deepEqual(new Float32Array([1]), new Int32Array([1])),
  ],
  ["deepEqual array vs typed", (a) => a.deepEqual([1], new Int32Array([1]))],
  ["notDeepEqual same", (a) => a.notDeepEqual([1], [1])],
  ["notDeepEqual differs", (a) => a.notDeepEqual([1], [2])],
  ["match", (a) => a.match("abc", /b/)],
  ["match fails", (a) => a.match("abc", /x/)],
  ["doesNotMatch fails", (a) => a.doesNotMatch("abc", /b/)],
  ["throws none", (a) => a.throws(() => {})],
  ["throws regex", (a) =>
    a.throws(() => {
      throw new Error("boom");
    }, /^Error: boom$/)],
  ["throws regex mismatch", (a) =>
    a.throws(() => {
      throw new Error("boom");
    }, /bang/)],
  ["throws class", (a) =>
    a.throws(() => {
      throw new RangeError("r");
    }, RangeError)],
  ["throws wrong class", (a) =>
    a.throws(() => {
      throw new Error("r");
    }, RangeError)],
  ["throws validator true", (a) =>
    a.throws(() => {
      throw new Error("v");
    }, () => true)],
  [
    "throws validator throws",
    (a) =>
      a.throws(() => {
        throw new Error("v");
      }, (e: unknown) => {
        a.match((e as Error).message, /w/);
        return true;
      }),
  ],
];

Deno.test("the browser assert shim fails exactly where node:assert/strict does", () => {
  for (const [name, run] of CASES) {
    const outcome = (a: typeof shim) => {
      try {
        run(a);
        return "passes";
      } catch {
        return "throws";
      }
    };
    nodeAssert.equal(
      outcome(shim),
      outcome(nodeAssert as unknown as typeof shim),
      name,
    );
  }
});

Deno.test("the browser assert shim's rejects() agrees with node:assert/strict", async () => {
  const cases: [string, (a: typeof shim) => Promise<void>][] = [
    ["resolves", (a) => a.rejects(async () => {})],
    ["rejects", (a) => a.rejects(() => Promise.reject(new Error("x")))],
    [
      "rejects regex",
      (a) => a.rejects(() => Promise.reject(new Error("x")), /y/),
    ],
    ["rejects promise", (a) => a.rejects(Promise.reject(new Error("x")), /x/)],
  ];
  for (const [name, run] of cases) {
    const outcome = async (a: typeof shim) => {
      try {
        await run(a);
        return "passes";
      } catch {
        return "throws";
      }
    };
    nodeAssert.equal(
      await outcome(shim),
      await outcome(nodeAssert as unknown as typeof shim),
      name,
    );
  }
});
