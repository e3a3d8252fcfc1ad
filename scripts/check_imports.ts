// deno-lint-ignore-file no-console -- a command-line check reporting to a person
/**
 * Fails when folders import each other in a cycle: imports must point one way (source →
 * reconciler → writers → notifiers, with util, model and the public plugin API at the bottom).
 *
 * Each folder is a unit (`src/source`, `plugins/json_file`); a file directly in `src/` is a unit
 * of its own (`src/model.ts`), since the entry wiring there depends on everything. Tests are left
 * out: a test may reach anywhere.
 *
 *   deno run --allow-read scripts/check_imports.ts
 *
 * @module
 */
import { dirname, join, relative, resolve } from "node:path";

const root = resolve(dirname(new URL(import.meta.url).pathname), "..");
const SCANNED = ["main.ts", "src", "plugins", "examples"];
const IMPORT_RE =
  /(?:import|export)\s[^'"]*?from\s*["']([^"']+)["']|import\s*\(\s*["']([^"']+)["']\s*\)|import\s+["']([^"']+)["']/g;

async function* sources(path: string): AsyncGenerator<string> {
  const info = await Deno.stat(path);
  if (info.isFile) {
    if (path.endsWith(".ts") && !/_test\.ts$/.test(path)) yield path;
    return;
  }
  for await (const entry of Deno.readDir(path)) yield* sources(join(path, entry.name));
}

/** The unit a file belongs to. */
function unitOf(file: string): string {
  const rel = relative(root, file);
  const dir = dirname(rel);
  return dir === "src" || dir === "plugins" || dir === "." ? rel : dir;
}

/** Import statements in `text`, comments and doc examples left out. */
function importsOf(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const out: string[] = [];
  for (const m of code.matchAll(IMPORT_RE)) out.push(m[1] ?? m[2] ?? m[3]!);
  return out;
}

const edges = new Map<string, Map<string, string>>();
for (const top of SCANNED) {
  for await (const file of sources(join(root, top))) {
    const from = unitOf(file);
    for (const spec of importsOf(await Deno.readTextFile(file))) {
      if (!spec.startsWith(".")) continue;
      const to = unitOf(resolve(dirname(file), spec));
      if (to === from) continue;
      if (!edges.has(from)) edges.set(from, new Map());
      if (!edges.get(from)!.has(to)) edges.get(from)!.set(to, relative(root, file));
    }
  }
}

// Tarjan's strongly connected components: every component of more than one unit is a cycle.
let index = 0;
const indexes = new Map<string, number>();
const low = new Map<string, number>();
const stack: string[] = [];
const onStack = new Set<string>();
const cycles: string[][] = [];
function visit(v: string): void {
  indexes.set(v, index);
  low.set(v, index++);
  stack.push(v);
  onStack.add(v);
  for (const w of edges.get(v)?.keys() ?? []) {
    if (!indexes.has(w)) {
      visit(w);
      low.set(v, Math.min(low.get(v)!, low.get(w)!));
    } else if (onStack.has(w)) {
      low.set(v, Math.min(low.get(v)!, indexes.get(w)!));
    }
  }
  if (low.get(v) === indexes.get(v)) {
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1) cycles.push(component.sort());
  }
}
for (const v of edges.keys()) if (!indexes.has(v)) visit(v);

if (cycles.length === 0) {
  console.log(`imports: no cycle between ${edges.size} folders`);
} else {
  for (const cycle of cycles) {
    console.error(`import cycle between ${cycle.join(", ")}:`);
    for (const from of cycle) {
      for (const [to, file] of edges.get(from) ?? []) {
        if (cycle.includes(to)) console.error(`  ${from} → ${to} (e.g. ${file})`);
      }
    }
  }
  Deno.exit(1);
}
