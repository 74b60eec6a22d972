/**
 * The layers are folders, and imports go one way:
 *
 *   common ← config, tunnel, lake ← workers ← pipeline ← daemon ← cli
 *
 * (emulator/ is a separate product that only the CLI starts.) These rules are checked on the import
 * statements of every source file, so a shortcut across folders fails the suite instead of slowly
 * eroding the layout; docs/architecture.md explains each layer.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const FOLDERS = ['common', 'config', 'tunnel', 'lake', 'workers', 'pipeline', 'daemon', 'cli', 'emulator'] as const;
type Folder = (typeof FOLDERS)[number];
/** Top-level folders that hold TypeScript but are not layers of the product. */
const NOT_LAYERS = ['test', 'bench', 'node_modules', 'dist', 'scripts', 'bin', 'docs', 'data'];

/** Which project folders each folder may import from (itself always allowed). */
const ALLOWED: Record<Folder, readonly Folder[]> = {
  common: [],
  config: ['common'],
  tunnel: ['common'],
  lake: ['common'],
  workers: ['common', 'config', 'tunnel', 'lake'],
  pipeline: ['common', 'config', 'tunnel', 'lake', 'workers'],
  daemon: ['common', 'config', 'tunnel', 'lake', 'workers', 'pipeline'],
  cli: ['common', 'config', 'tunnel', 'lake', 'workers', 'pipeline', 'daemon', 'emulator'],
  // The emulator shares the protobuf message definitions and key order, never the client's codec or signer.
  emulator: ['common', 'tunnel', 'lake'],
};

/** Narrower rules inside the allowed folders: [importing file prefix, imported path prefix, why]. */
const FORBIDDEN_FILES: Array<[string, string, string]> = [
  // The emulator encodes what the client decodes: sharing the codec or the signer would hide one bug on both sides.
  ['emulator/', 'tunnel/plainbuffer', 'emulator must not reuse the client PlainBuffer codec'],
  ['emulator/', 'tunnel/crc8', 'emulator must not reuse the client CRC-8'],
  ['emulator/', 'tunnel/signing', 'emulator must verify signatures with its own implementation'],
  ['emulator/', 'tunnel/tunnel-client', 'emulator must not depend on the client'],
];

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...sourceFiles(full));
    else if (name.endsWith('.ts')) out.push(full);
  }
  return out;
}

function projectImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from\s+|import\s*\(\s*)'(\.[^']+)'/g)].map((m) => m[1]!);
  return specs.map((s) => relative(ROOT, resolve(file, '..', s)).replace(/\.js$/, ''));
}

describe('architecture', () => {
  const files = FOLDERS.flatMap((f) => sourceFiles(join(ROOT, f)).map((p) => ({ folder: f, path: relative(ROOT, p) })));

  it('finds the source tree', () => {
    expect(files.length).toBeGreaterThan(50);
  });

  it('folders import only the folders upstream of them', () => {
    const violations: string[] = [];
    for (const { folder, path } of files) {
      for (const target of projectImports(join(ROOT, path))) {
        const targetFolder = target.split('/')[0] as Folder;
        if (!FOLDERS.includes(targetFolder) || targetFolder === folder) continue;
        if (!ALLOWED[folder].includes(targetFolder)) violations.push(`${path} imports ${target}`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('the emulator stays an independent implementation', () => {
    const violations: string[] = [];
    for (const { path } of files) {
      for (const target of projectImports(join(ROOT, path))) {
        for (const [from, to, why] of FORBIDDEN_FILES) {
          if (path.startsWith(from) && target.startsWith(to)) violations.push(`${path} imports ${target}: ${why}`);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  it('only the demo loads the official tablestore SDK: a daemon start never pays for it (docs/tunnel-protocol.md §DescribeTable)', () => {
    const loaders = files.filter(({ path }) => /(?:from\s+|\(\s*)'tablestore'/.test(readFileSync(join(ROOT, path), 'utf8'))).map(({ path }) => path);
    expect(loaders.filter((path) => !path.startsWith('cli/demo/') && !path.startsWith('emulator/'))).toEqual([]);
    expect(loaders).toContain('cli/demo/writer.ts'); // the pattern finds the way the demo loads it
  });

  it('every folder with source files is a layer the rules know', () => {
    const unknown = readdirSync(ROOT).filter(
      (name) =>
        !name.startsWith('.') &&
        !NOT_LAYERS.includes(name) &&
        !(FOLDERS as readonly string[]).includes(name) &&
        statSync(join(ROOT, name)).isDirectory() &&
        sourceFiles(join(ROOT, name)).length > 0,
    );
    expect(unknown).toEqual([]);
  });

  it('no source file takes part in an import cycle', () => {
    const graph = new Map(files.map(({ path }) => [path.replace(/\.ts$/, ''), projectImports(join(ROOT, path))]));
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (node: string, stack: string[]): void => {
      if (state.get(node) === 'done') return;
      if (state.get(node) === 'open') {
        cycles.push([...stack.slice(stack.indexOf(node)), node].join(' → '));
        return;
      }
      state.set(node, 'open');
      for (const next of graph.get(node) ?? []) if (graph.has(next)) visit(next, [...stack, node]);
      state.set(node, 'done');
    };
    for (const node of graph.keys()) visit(node, []);
    expect(cycles).toEqual([]);
  });
});
