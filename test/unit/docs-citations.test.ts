/**
 * References a newcomer can follow: every `docs/<name>.md` that a source, test, bench or doc file
 * cites exists in the repository, and every `§Section` named right after it (`§A`, `§A, §B`) is a
 * heading of that doc, spelled in full. A citation may run over a line break inside a comment.
 *
 * Also refused, because they point outside the repository: section numbers of notes the repository
 * does not hold (a `§` followed by a digit, "design §n") and paths of a developer's machine.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SELF = relative(ROOT, fileURLToPath(import.meta.url));
const SKIP_DIRS = new Set(['node_modules', 'dist', 'data', 'coverage']);
const SCANNED = /\.(?:ts|mts|cts|js|mjs|cjs|md)$/;

function scannedFiles(dir = ROOT): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.') || SKIP_DIRS.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...scannedFiles(path));
    else if (SCANNED.test(entry.name)) out.push(relative(ROOT, path));
  }
  return out.sort();
}

/**
 * The file as one line of text, with each line break and the comment marker after it (` * `, `// `)
 * replaced by one space, so that a citation wrapped in a comment reads as written.
 */
function flatten(text: string): { flat: string; lineAt: (offset: number) => number } {
  const starts: number[] = [];
  let flat = '';
  text.split('\n').forEach((line, i) => {
    if (i > 0) flat += ' ';
    const body = i > 0 ? line.replace(/^\s*(?:\*(?!\/)|\/\/)?\s*/, '') : line;
    starts.push(flat.length);
    flat += body;
  });
  const lineAt = (offset: number) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
  return { flat, lineAt };
}

/** Headings of a markdown file, outside code fences, longest first (so `§A b` wins over `§A`). */
function headingsOf(markdown: string): string[] {
  const headings: string[] = [];
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*```/.test(line)) fenced = !fenced;
    const m = fenced ? null : /^#{1,6}\s+(.+?)\s*$/.exec(line);
    if (m) headings.push(m[1]!);
  }
  return headings.sort((a, b) => b.length - a.length);
}

const files = scannedFiles();
const docCache = new Map<string, string[] | null>();

function docHeadings(name: string): string[] | null {
  if (!docCache.has(name)) {
    let headings: string[] | null = null;
    try {
      headings = headingsOf(readFileSync(join(ROOT, 'docs', `${name}.md`), 'utf8'));
    } catch {
      headings = null;
    }
    docCache.set(name, headings);
  }
  return docCache.get(name)!;
}

interface Finding {
  missingDocs: string[];
  missingSections: string[];
}

/** Reads the `§Heading` list after a citation; returns the cited text that is no heading, if any. */
function unknownSection(rest: string, headings: readonly string[]): string | null {
  const first = /^`?\s*§/.exec(rest);
  if (!first) return null;
  let at = first[0].length;
  for (;;) {
    const heading = headings.find((h) => rest.startsWith(h, at) && !/[\p{L}\p{N}]/u.test(rest.charAt(at + h.length)));
    if (heading === undefined) return rest.slice(at, at + 60);
    at += heading.length;
    const next = /^(?:,|;| and)\s*§/.exec(rest.slice(at));
    if (!next) return null;
    at += next[0].length;
  }
}

function scan(): Finding {
  const missingDocs: string[] = [];
  const missingSections: string[] = [];
  for (const file of files) {
    if (file === SELF) continue; // its examples are not citations
    const { flat, lineAt } = flatten(readFileSync(join(ROOT, file), 'utf8'));
    for (const m of flat.matchAll(/docs\/([\w.-]+?)\.md\b/g)) {
      const word = flat.slice(flat.lastIndexOf(' ', m.index) + 1, m.index);
      if (word.includes('://') && !word.startsWith('file://')) continue; // another site's docs
      const where = `${file}:${lineAt(m.index)}`;
      const headings = docHeadings(m[1]!);
      if (headings === null) {
        missingDocs.push(`${where}: docs/${m[1]}.md`);
        continue;
      }
      const unknown = unknownSection(flat.slice(m.index + m[0].length), headings);
      if (unknown !== null) missingSections.push(`${where}: docs/${m[1]}.md §${unknown}`);
    }
  }
  return { missingDocs, missingSections };
}

describe('doc citations', () => {
  const found = scan();

  it('scans sources, tests, benches and docs', () => {
    for (const folder of ['tunnel/', 'lake/', 'workers/', 'pipeline/', 'test/', 'bench/', 'docs/']) {
      expect(
        files.some((f) => f.startsWith(folder)),
        folder,
      ).toBe(true);
    }
    expect(files).toContain('README.md');
  });

  it('cites only docs that exist in the repository', () => {
    expect(found.missingDocs).toEqual([]);
  });

  it('names only sections that are headings of the cited doc', () => {
    expect(found.missingSections).toEqual([]);
  });

  it('names no section number of notes outside the repository', () => {
    const stale: string[] = [];
    for (const file of files) {
      if (file === SELF) continue;
      readFileSync(join(ROOT, file), 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (/§\s?\d|\bdesign §/.test(line)) stale.push(`${file}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(stale).toEqual([]);
  });

  it('carries no path of a developer machine', () => {
    const machinePaths: string[] = [];
    for (const file of files) {
      if (file === SELF) continue;
      readFileSync(join(ROOT, file), 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (/(?<![\w.])\/(?:work|home|root|Users)\//.test(line)) machinePaths.push(`${file}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(machinePaths).toEqual([]);
  });

  it('reads a citation the way the rules above say', () => {
    const headings = headingsOf('# T\n\n## Channel lifecycle\n\n```sh\n# not a heading\n```\n\n### Heartbeat\n## Channel lifecycle rules\n');
    expect(headings).toEqual(['Channel lifecycle rules', 'Channel lifecycle', 'Heartbeat', 'T']);
    expect(unknownSection(' §Channel lifecycle, as data.', headings)).toBeNull();
    expect(unknownSection('` §Channel lifecycle rules)', headings)).toBeNull();
    expect(unknownSection(' §Channel lifecycle, §Heartbeat and more', headings)).toBeNull();
    expect(unknownSection(' §Heartbeats', headings)).toBe('Heartbeats');
    expect(unknownSection(' §Heartbeat; §not a heading', headings)).toBe('not a heading');
    expect(unknownSection(' (no section)', headings)).toBeNull();
    expect(flatten('a (docs/x.md\n * §Channel\n * lifecycle)').flat).toBe('a (docs/x.md §Channel lifecycle)');
    expect(flatten('one\ntwo\n// three').lineAt('one two three'.indexOf('three'))).toBe(3);
  });
});
