/**
 * The tree's shape as tests: product code never imports the tooling, no product file grows past
 * the size where it should be split, and the browser entry stays free of Node. They read the .ts
 * sources (the compiled suite lives in dist/test, the sources two levels up).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** What ships (package.json `files`); everything else is tooling. */
const PRODUCT = ['protocol', 'client-sdk', 'edge-server', 'discovery', 'netem', 'bin'];
const TOOLING = ['bench', 'test'];
/** CONVENTIONS.md: "a file over ~400 lines is asking to be split". */
const MAX_PRODUCT_LINES = 400;
/** The only packages the browser entry may reach; everything else in package.json is Node or server-side. */
const BROWSER_PACKAGES = new Set(['msgpackr']);

function sources(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) return name === 'node_modules' ? [] : sources(full);
      return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [full] : [];
    });
}

const productFiles = PRODUCT.flatMap((dir) => sources(path.join(ROOT, dir)));

export interface ImportRef {
  specifier: string;
  line: number;
  /** `import type` / `export type`: erased by tsc, never loaded. */
  typeOnly: boolean;
}

/**
 * Every module specifier in a source file: static imports and re-exports (one or many lines),
 * side-effect imports, dynamic `import()` and `require()`. Comments are blanked first so an
 * example in a doc comment is not taken for an import.
 */
export function importsOf(source: string): ImportRef[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' ')).replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  const lineAt = (index: number) => code.slice(0, index).split('\n').length;
  const refs: ImportRef[] = [];
  const fromClause = /\b(import|export)\s+(type\s+)?[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g;
  for (const m of code.matchAll(fromClause)) refs.push({ specifier: m[3]!, line: lineAt(m.index), typeOnly: Boolean(m[2]) });
  for (const m of code.matchAll(/\bimport\s*['"]([^'"]+)['"]/g)) refs.push({ specifier: m[1]!, line: lineAt(m.index), typeOnly: false });
  for (const m of code.matchAll(/\b(?:import|require)\s*\(\s*['"`]([^'"`]+)['"`]\s*\)/g)) refs.push({ specifier: m[1]!, line: lineAt(m.index), typeOnly: false });
  // `typeof import('x')` in a type position is erased like `import type`
  for (const m of code.matchAll(/\btypeof\s+import\s*\(\s*['"]([^'"]+)['"]\s*\)/g)) {
    const ref = refs.find((r) => r.specifier === m[1] && r.line === lineAt(m.index) && !r.typeOnly);
    if (ref) ref.typeOnly = true;
  }
  return refs;
}

function resolveRelative(from: string, specifier: string): string {
  const target = path.resolve(path.dirname(from), specifier);
  const ts = target.replace(/\.js$/, '.ts');
  if (existsSync(ts)) return ts;
  if (existsSync(path.join(target, 'index.ts'))) return path.join(target, 'index.ts');
  return target;
}

const rel = (file: string) => path.relative(ROOT, file);

const Structure = suite('structure');

Structure('the import scanner sees static, multi-line, dynamic and type-only imports, not comments', () => {
  const refs = importsOf(
    [
      "import { a } from '../bench/a.js';",
      "import {\n  b,\n  c,\n} from '../test/support/b.js';",
      "export * from './c.js';",
      "import type { D } from 'node:fs';",
      "const e = await import('../bench/e.js');",
      "// import { f } from '../bench/f.js';",
      "/* import('../test/g.js') */",
      "import 'node:process';",
    ].join('\n'),
  );
  assert.equal(
    refs.map((r) => [r.specifier, r.typeOnly]),
    [
      ['../bench/a.js', false],
      ['../test/support/b.js', false],
      ['./c.js', false],
      ['node:fs', true],
      ['node:process', false],
      ['../bench/e.js', false],
    ],
  );
});

Structure('product code (protocol, client-sdk, edge-server, discovery, netem, bin) never imports bench/ or test/', () => {
  assert.ok(productFiles.length > 50, `found only ${productFiles.length} product files under ${ROOT}`);
  const offences: string[] = [];
  for (const file of productFiles) {
    for (const ref of importsOf(readFileSync(file, 'utf8'))) {
      if (!ref.specifier.startsWith('.')) continue;
      const top = rel(resolveRelative(file, ref.specifier)).split(path.sep)[0]!;
      if (TOOLING.includes(top)) offences.push(`${rel(file)}:${ref.line} imports ${ref.specifier}`);
    }
  }
  assert.equal(offences, [], `product code must not depend on the tooling:\n${offences.join('\n')}`);
});

Structure('the benches never import the tests (tests may use bench/lib; the other way is a cycle)', () => {
  const offences: string[] = [];
  for (const file of sources(path.join(ROOT, 'bench'))) {
    for (const ref of importsOf(readFileSync(file, 'utf8'))) {
      if (ref.specifier.startsWith('.') && rel(resolveRelative(file, ref.specifier)).split(path.sep)[0] === 'test') offences.push(`${rel(file)}:${ref.line} imports ${ref.specifier}`);
    }
  }
  assert.equal(offences, [], `move what both need into bench/lib:\n${offences.join('\n')}`);
});

/**
 * protocol/ is the only code the products share; each product (client-sdk, edge-server, discovery,
 * netem) may import protocol/ and itself, never another product. bin/ is the composition root
 * and may import them all. Type-only imports count too: they couple the products' APIs.
 */
const SHARED = 'protocol';
const COMPOSITION_ROOT = 'bin';

Structure('no product imports another product: client-sdk, edge-server, discovery and netem share only protocol/', () => {
  const offences: string[] = [];
  for (const file of productFiles) {
    const own = rel(file).split(path.sep)[0]!;
    if (own === COMPOSITION_ROOT) continue;
    for (const ref of importsOf(readFileSync(file, 'utf8'))) {
      if (!ref.specifier.startsWith('.')) continue;
      const top = rel(resolveRelative(file, ref.specifier)).split(path.sep)[0]!;
      if (top === own || !PRODUCT.includes(top)) continue;
      if (top !== SHARED || own === SHARED) offences.push(`${rel(file)}:${ref.line} imports ${ref.specifier}`);
    }
  }
  assert.equal(offences, [], `move what both need into protocol/ (see protocol/motion/, protocol/server/signing.ts):\n${offences.join('\n')}`);
});

Structure(`no product .ts file is longer than ${MAX_PRODUCT_LINES} lines`, () => {
  const long = productFiles
    .map((file) => ({ file: rel(file), lines: readFileSync(file, 'utf8').split('\n').length - 1 }))
    .filter(({ lines }) => lines > MAX_PRODUCT_LINES)
    .map(({ file, lines }) => `${file}: ${lines} lines`);
  assert.equal(long, [], `split these by job:\n${long.join('\n')}`);
});

Structure('the browser entry client-sdk/index.ts reaches no node: module and no Node-only package', () => {
  const entry = path.join(ROOT, 'client-sdk/index.ts');
  const seen = new Set<string>();
  const offences: string[] = [];
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const ref of importsOf(readFileSync(file, 'utf8'))) {
      if (ref.typeOnly) continue;
      if (ref.specifier.startsWith('.')) {
        queue.push(resolveRelative(file, ref.specifier));
        continue;
      }
      const bare = ref.specifier.startsWith('@') ? ref.specifier.split('/').slice(0, 2).join('/') : ref.specifier.split('/')[0]!;
      const isNode = ref.specifier.startsWith('node:') || builtinModules.includes(bare);
      if (isNode || !BROWSER_PACKAGES.has(bare)) offences.push(`${rel(file)}:${ref.line} imports ${ref.specifier}`);
    }
  }
  assert.ok(seen.size > 10, `walked only ${seen.size} files from ${rel(entry)}`);
  assert.equal(offences, [], `the browser bundle would pull Node code:\n${offences.join('\n')}`);
});

Structure.run();
