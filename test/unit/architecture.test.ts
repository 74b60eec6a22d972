/**
 * Data flows one way (Tunnel → worker → lake → daemon commit), and the emulator stays an independent
 * implementation of the wire protocols. These rules are checked on the import statements of every
 * source file, so a shortcut across folders fails the suite instead of slowly eroding the layout.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const FOLDERS = ['common', 'config', 'tunnel', 'lake', 'workers', 'daemon', 'emulator'] as const;
type Folder = (typeof FOLDERS)[number];

/** Which project folders each folder may import from (itself always allowed). */
const ALLOWED: Record<Folder, readonly Folder[]> = {
  common: [],
  config: ['common'],
  tunnel: ['common'],
  lake: ['common'],
  workers: ['common', 'config', 'tunnel', 'lake'],
  daemon: ['common', 'config', 'tunnel', 'lake', 'workers', 'emulator'],
  emulator: ['common', 'tunnel', 'lake'],
};

/** Narrower rules inside the allowed folders: [importing file prefix, imported path prefix, why]. */
const FORBIDDEN_FILES: Array<[string, string, string]> = [
  // The emulator encodes what the client decodes: sharing the codec or the signer would hide one bug on both sides.
  ['emulator/', 'tunnel/plainbuffer', 'emulator must not reuse the client PlainBuffer codec'],
  ['emulator/', 'tunnel/crc8', 'emulator must not reuse the client CRC-8'],
  ['emulator/', 'tunnel/signing', 'emulator must verify signatures with its own implementation'],
  ['emulator/', 'tunnel/tunnel-client', 'emulator must not depend on the client'],
  // Only the CLI commands that start emulators (and the demo) may reach into emulator/.
  ['daemon/batch', 'emulator/', 'the daemon core never depends on the emulator'],
  ['daemon/daemon', 'emulator/', 'the daemon core never depends on the emulator'],
  ['daemon/committer', 'emulator/', 'the daemon core never depends on the emulator'],
  ['daemon/table-runner', 'emulator/', 'the daemon core never depends on the emulator'],
  ['daemon/main', 'emulator/', 'the daemon core never depends on the emulator'],
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

  it('the emulator stays an independent implementation and the daemon core never needs it', () => {
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
});
