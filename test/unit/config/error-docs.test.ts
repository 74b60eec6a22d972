import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../../common/errors.js';

const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');

describe('docs/errors.md', () => {
  const documented = [...doc.matchAll(/^### (OTSL_[A-Z0-9_]+)\s*$/gm)].map((m) => m[1]!);

  it('documents every code of common/errors.ts, and no other', () => {
    const codes = Object.keys(ERROR_CODES);
    expect(
      documented.filter((c) => !codes.includes(c)),
      'documented but not in ERROR_CODES',
    ).toEqual([]);
    expect(
      codes.filter((c) => !documented.includes(c)),
      'in ERROR_CODES but not documented',
    ).toEqual([]);
    expect(new Set(documented).size).toBe(documented.length);
  });

  it('gives each code a cause and a fix', () => {
    const sections = doc.split(/^### /m).slice(1);
    for (const section of sections) {
      const code = section.split('\n')[0]!.trim();
      expect(section, code).toMatch(/\*\*Cause:\*\*/);
      expect(section, code).toMatch(/\*\*Fix:\*\*/);
    }
  });

  it('lists only codes the product raises: each is named, quoted, in the code (the catalogue keys are not)', () => {
    const root = new URL('../../../', import.meta.url).pathname;
    const sources: string[] = [];
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const full = join(dir, name);
        if (statSync(full).isDirectory()) walk(full);
        else if (name.endsWith('.ts')) sources.push(readFileSync(full, 'utf8'));
      }
    };
    for (const layer of ['common', 'config', 'tunnel', 'lake', 'workers', 'pipeline', 'daemon', 'cli', 'emulator']) walk(join(root, layer));
    const text = sources.join('\n');
    const unused = Object.keys(ERROR_CODES).filter((code) => !text.includes(`'${code}'`));
    expect(unused, 'codes nothing raises: retire them or raise them where their cause is').toEqual([]);
  });
});
