/**
 * Every exported class and function of every entry point in deno.json's
 * exports map (namespace members such as `optim.Adam` included) carries a
 * runnable `@example`, so `deno test --doc` exercises each callable a user
 * can import. Reads the symbol tables from `deno doc --json <entry>`, one
 * entry at a time, and prints how many callables each entry documents.
 */

import assert from "node:assert/strict";

const root = new URL("../../", import.meta.url);

interface DocTag {
  kind: string;
}
interface DocDecl {
  kind: string;
  declarationKind?: string;
  jsDoc?: { tags?: DocTag[] };
  def?: { elements?: DocSymbol[] };
}
interface DocSymbol {
  name: string;
  declarations: DocDecl[];
}
interface DocJson {
  nodes: Record<string, { symbols: DocSymbol[] }>;
}

const CALLABLE = new Set(["function", "class"]);

/**
 * Walks exported symbols (into namespaces), returning the qualified names
 * of callables, each with whether any of its declarations (overloads
 * included) has an `@example`.
 */
function callables(
  symbols: DocSymbol[],
  prefix: string,
): { name: string; hasExample: boolean }[] {
  const out: { name: string; hasExample: boolean }[] = [];
  for (const sym of symbols) {
    const decls = sym.declarations.filter((d) =>
      d.declarationKind !== "private"
    );
    const name = prefix + sym.name;
    const calls = decls.filter((d) => CALLABLE.has(d.kind));
    if (calls.length > 0) {
      out.push({
        name,
        hasExample: decls.some((d) =>
          d.jsDoc?.tags?.some((t) => t.kind === "example") ?? false
        ),
      });
    }
    for (const d of decls) {
      if (d.kind === "namespace" && d.def?.elements) {
        out.push(...callables(d.def.elements, name + "."));
      }
    }
  }
  return out;
}

async function docJson(path: string): Promise<DocJson> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", path],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  assert.equal(
    code,
    0,
    `deno doc ${path}: ${new TextDecoder().decode(stderr)}`,
  );
  return JSON.parse(new TextDecoder().decode(stdout));
}

Deno.test("every exported class and function of every entry point has an @example", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", root)),
  ) as { exports: Record<string, string> };
  const missing: string[] = [];
  let total = 0;
  const lines: string[] = [];
  for (const [entry, path] of Object.entries(config.exports)) {
    const doc = await docJson(path);
    const main = Object.entries(doc.nodes).find(([file]) =>
      file === new URL(path, root).href
    );
    assert.ok(main, `deno doc ${path}: no node for the entry file`);
    const found = callables(main[1].symbols, "");
    assert.ok(found.length > 0, `${entry}: no exported callables found`);
    for (const c of found) {
      if (!c.hasExample) missing.push(`${entry}: ${c.name}`);
    }
    const n = found.filter((c) => c.hasExample).length;
    total += n;
    lines.push(`${entry.padEnd(12)} ${n} of ${found.length}`);
  }
  console.log(`callables with @example per entry point:\n${lines.join("\n")}`);
  console.log(`total: ${total}`);
  assert.deepEqual(missing, [], `callables without an @example`);
});
